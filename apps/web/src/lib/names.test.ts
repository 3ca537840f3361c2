import { describe, expect, it } from "vitest";
import { displayName, generatedName } from "./names";

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
});
