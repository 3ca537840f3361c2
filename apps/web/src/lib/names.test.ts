import { describe, expect, it } from "vitest";
import { displayName, distinctNames, generatedName, nameTag } from "./names";

const ALICE = "0x1111111111111111111111111111111111111111";
const BOB = "0x2222222222222222222222222222222222222222";

describe("names people see instead of addresses", () => {
  it("derives the same two-word name from an address in any letter case", () => {
    const name = generatedName(ALICE);
    expect(name).toMatch(/^[A-Z][a-z]+ [A-Z][a-z]+$/);
    expect(generatedName(ALICE.toUpperCase().replace("0X", "0x"))).toBe(name);
  });

  it("gives different addresses different names (for these two)", () => {
    expect(generatedName(ALICE)).not.toBe(generatedName(BOB));
  });

  it("never contains any part of the address", () => {
    expect(generatedName(ALICE)).not.toMatch(/0x|1111/);
  });

  it("calls the signed-in address You", () => {
    expect(displayName(ALICE, ALICE.toUpperCase().replace("0X", "0x"))).toBe("You");
  });

  it("prefers the label this device gave a contact over the generated name", () => {
    expect(displayName(BOB, ALICE, { [BOB.toLowerCase()]: "Mum" })).toBe("Mum");
    expect(displayName(BOB, ALICE, {})).toBe(generatedName(BOB));
  });

  describe("among the people of a chat", () => {
    const CAROL = "0x3333333333333333333333333333333333333333";
    const MALLORY = "0x4444444444444444444444444444444444444444";
    // Mallory's address was ground to show as Alice does; Carol's name is her own.
    const name = (address: string) => (address.toLowerCase() === CAROL ? "Calm Otter" : "Clever Mango");

    it("tags two people who share a name, each by their own address, whatever the order", () => {
      const nameOf = distinctNames([ALICE, CAROL, MALLORY], name);
      expect(nameOf(ALICE)).toBe(`Clever Mango ${nameTag(ALICE)}`);
      expect(nameOf(MALLORY.toUpperCase().replace("0X", "0x"))).toBe(`Clever Mango ${nameTag(MALLORY)}`);
      expect(nameTag(ALICE)).not.toBe(nameTag(MALLORY));
      expect(distinctNames([MALLORY, ALICE], name)(ALICE)).toBe(nameOf(ALICE));
    });

    it("leaves a name nobody else has as it is", () => {
      expect(distinctNames([ALICE, CAROL, MALLORY], name)(CAROL)).toBe("Calm Otter");
      expect(distinctNames([ALICE, CAROL], name)(ALICE)).toBe("Clever Mango");
    });

    it("counts one address once, whatever its letter case", () => {
      expect(distinctNames([ALICE, ALICE.toUpperCase().replace("0X", "0x")], name)(ALICE)).toBe("Clever Mango");
    });

    it("tags a shared name's tag from the address alone: four hex digits, none of the address", () => {
      expect(nameTag(ALICE)).toMatch(/^#[0-9a-f]{4}$/);
      expect(nameTag(ALICE)).not.toMatch(/1111/);
    });
  });
});
