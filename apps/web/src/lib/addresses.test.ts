import { describe, expect, it } from "vitest";
import { membersProblem, parseAddressList } from "./addresses";
import { parseAmount, parseTokens } from "./tokens";

const ME = "0x1111111111111111111111111111111111111111";
const BOB = "0x2222222222222222222222222222222222222222";
const CAROL = "0x3333333333333333333333333333333333333333";

describe("addresses people type", () => {
  it("splits on commas, spaces and new lines, each address once", () => {
    expect(parseAddressList(`${BOB}, ${CAROL}\n${BOB.toUpperCase().replace("0X", "0x")}`)).toEqual({
      valid: [BOB, CAROL],
      invalid: [],
    });
  });

  it("refuses a mixed-case address whose EIP-55 checksum does not hold: a typo, not another person", () => {
    const real = "0x52908400098527886E0F7030069857D2E4169EE7"; // EIP-55's own example
    const typo = "0x52908400098527886E0F7030069857D2E4169Ee7";
    expect(parseAddressList(real).valid).toEqual([real]);
    expect(parseAddressList(real.toLowerCase()).valid).toEqual([real]); // no checksum to check
    expect(parseAddressList(`0x${real.slice(2).toUpperCase()}`).valid).toEqual([real]);
    expect(parseAddressList(typo)).toEqual({ valid: [], invalid: [typo] });
  });

  it("names the first thing that is not an address", () => {
    expect(membersProblem(parseAddressList(`${BOB} bob.eth`), ME)).toBe("Not an address: bob.eth");
  });

  it("refuses a chat with nobody but me", () => {
    expect(membersProblem(parseAddressList(ME), ME)).toBe("That is your own address: add someone else");
    expect(membersProblem(parseAddressList(""), ME)).toBe("Enter at least one address");
  });

  it("accepts others, with or without me among them", () => {
    expect(membersProblem(parseAddressList(`${ME} ${BOB}`), ME)).toBeNull();
  });
});

describe("stablecoin settings and amounts", () => {
  it("reads symbol, address, decimals and fee currency; skips a malformed entry", () => {
    const tokens = parseTokens(`USDT:${BOB}:6:${CAROL},broken:0x12:6,USDm:${CAROL}:18`);
    expect(tokens).toEqual([
      { symbol: "USDT", address: BOB, decimals: 6, feeCurrency: CAROL },
      { symbol: "USDm", address: CAROL, decimals: 18, feeCurrency: null },
    ]);
  });

  it("parses amounts in the token's own decimals", () => {
    expect(parseAmount("1.5", 6)).toBe(1_500_000n);
    expect(parseAmount(".25", 18)).toBe(250_000_000_000_000_000n);
  });

  it("takes a comma for the decimal mark (phones in many locales offer no dot), never a thousands separator", () => {
    expect(parseAmount("1,5", 6)).toBe(1_500_000n);
    expect(parseAmount("0,125", 6)).toBe(125_000n);
    expect(parseAmount("1,000", 6)).toBeNull(); // one thousand, or one? Refused rather than guessed
    expect(parseAmount("1,000.5", 6)).toBeNull();
    expect(parseAmount("1,2,3", 6)).toBeNull();
  });

  it("refuses zero, junk and more decimals than the token has", () => {
    expect(parseAmount("0", 6)).toBeNull();
    expect(parseAmount("1.0000001", 6)).toBeNull();
    expect(parseAmount("1e3", 6)).toBeNull();
  });
});
