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
export function generatedName(address: string): string {
  const hash = hexToBytes(keccak256(toBytes(address.toLowerCase())));
  return `${capital(ADJECTIVES[hash[0]! % ADJECTIVES.length]!)} ${capital(NOUNS[hash[1]! % NOUNS.length]!)}`;
}

export type Labels = Readonly<Record<string, string>>;

/** "You" for the signed-in address, the contact's label when this device has one, else the generated name. */
export function displayName(address: string, me: string | null, labels: Labels = {}): string {
  if (me && address.toLowerCase() === me.toLowerCase()) return "You";
  return labels[address.toLowerCase()] ?? generatedName(address);
}

/** Within one chat, a name that two people in it share is told apart by their order there ("Clever Mango (2)"):
 * generated names are short, so two addresses can share one, by chance or made on purpose to pass as someone else.
 * `people` are the chat's members in the server's order (the same on every device), then anyone else seen there. */
export function distinctNames(people: readonly string[], name: (address: string) => string): (address: string) => string {
  const order = new Map<string, string>(); // lower-case address → its name
  for (const address of people) {
    const key = address.toLowerCase();
    if (!order.has(key)) order.set(key, name(address));
  }
  const sharing = new Map<string, string[]>(); // name → the addresses that show as it, in order
  for (const [key, shown] of order) sharing.set(shown, [...(sharing.get(shown) ?? []), key]);
  return (address) => {
    const shown = name(address);
    const same = sharing.get(shown) ?? [];
    const index = same.indexOf(address.toLowerCase());
    return same.length > 1 && index >= 0 ? `${shown} (${index + 1})` : shown;
  };
}
