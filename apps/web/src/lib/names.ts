// What people see instead of a wallet address (MiniPay's listing rules: no address, not even shortened, as an
// identity): the label this device gave a contact, else a name derived from the address — the same on every device.
import { hexToBytes, keccak256, toBytes } from "viem";

const ADJECTIVES = [
  "amber", "brave", "bright", "calm", "clever", "cosmic", "crisp", "curious", "daring", "dawn", "eager", "fancy",
  "fierce", "gentle", "glad", "golden", "grand", "happy", "honest", "humble", "jolly", "keen", "kind", "lively",
  "lucky", "mellow", "merry", "mighty", "misty", "noble", "patient", "peppy", "plucky", "polite", "proud", "quick",
  "quiet", "rapid", "ruby", "rustic", "sage", "shiny", "silver", "sleek", "smart", "snowy", "solar", "spicy",
  "steady", "sunny", "swift", "tidy", "tender", "upbeat", "vivid", "warm", "wild", "wise", "witty", "young",
  "zesty", "breezy", "cheery", "dapper",
];
const NOUNS = [
  "acorn", "badger", "baobab", "beacon", "bison", "cactus", "canyon", "cedar", "comet", "coral", "cricket", "dolphin",
  "eagle", "ember", "falcon", "fern", "finch", "fox", "gazelle", "gecko", "harbor", "heron", "ibis", "jaguar",
  "kestrel", "koala", "lagoon", "lemur", "lion", "lotus", "lynx", "mango", "maple", "meadow", "meerkat", "moon",
  "nectar", "oasis", "orca", "otter", "owl", "panda", "papaya", "pebble", "pepper", "puffin", "quail", "raven",
  "reef", "river", "robin", "sparrow", "summit", "tiger", "tulip", "turtle", "valley", "walrus", "willow", "zebra",
  "kiwi", "ibex", "marula", "sunbird",
];

const capital = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);

/** "Clever Mango": two words picked by the address's hash, so everyone sees the same name for the same wallet. */
const hashOf = (address: string) => hexToBytes(keccak256(toBytes(address.toLowerCase())));

export function generatedName(address: string): string {
  const hash = hashOf(address);
  return `${capital(ADJECTIVES[hash[0]! % ADJECTIVES.length]!)} ${capital(NOUNS[hash[1]! % NOUNS.length]!)}`;
}

export type Labels = Readonly<Record<string, string>>;

/** "You" for the signed-in address, the contact's label when this device has one, else the generated name. */
export function displayName(address: string, me: string | null, labels: Labels = {}): string {
  if (me && address.toLowerCase() === me.toLowerCase()) return "You";
  return labels[address.toLowerCase()] ?? generatedName(address);
}

/** "#3f9a": four hex digits of the address's hash past the two the name uses, shown beside a name that is shared. */
export function nameTag(address: string): string {
  const hash = hashOf(address);
  return `#${hash[2]!.toString(16).padStart(2, "0")}${hash[3]!.toString(16).padStart(2, "0")}`;
}

/** Among `people` (a chat's members and senders, or everyone in the chat list), a name two of them share gets each
 * one's tag ("Clever Mango #3f9a"): a generated name is 1 of 4,096, so an address can be made to pass as someone
 * else's. The tag depends on the address alone, the same on every device and whoever joins or leaves. */
export function distinctNames(people: readonly string[], name: (address: string) => string): (address: string) => string {
  const sharing = new Map<string, Set<string>>(); // name → the addresses that show as it
  for (const address of people) {
    const shown = name(address);
    sharing.set(shown, (sharing.get(shown) ?? new Set()).add(address.toLowerCase()));
  }
  return (address) => {
    const shown = name(address);
    return (sharing.get(shown)?.size ?? 0) > 1 ? `${shown} ${nameTag(address)}` : shown;
  };
}
