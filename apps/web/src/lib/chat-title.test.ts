// Titles and counts as the header and the list show them: whole names, right plurals.
import { describe, expect, it } from "vitest";
import { chatTitle } from "./chat-title";
import { counted } from "./format";
import type { Chat } from "./types";

const ME = "0x1111111111111111111111111111111111111111";
const others = ["0xaa", "0xbb", "0xcc", "0xdd"];
const group = (members: string[], title: string | null = null): Chat => ({
  id: "g1", members: [ME, ...members], title, created_by: ME, created_at: 0, last_seq: 0, rev: 0,
});
const name = (a: string) => `Name ${a.slice(2)}`;

describe("chatTitle", () => {
  it("names up to three others in full, then two and how many more", () => {
    expect(chatTitle(group(others.slice(0, 1)), ME, name)).toBe("Name aa");
    expect(chatTitle(group(others.slice(0, 3)), ME, name)).toBe("Name aa, Name bb, Name cc");
    expect(chatTitle(group(others), ME, name)).toBe("Name aa, Name bb and 2 more");
    expect(chatTitle(group(others, "Trip"), ME, name)).toBe("Trip");
    expect(chatTitle(group([]), ME, name)).toBe("Only you");
  });
});

describe("counted", () => {
  it("says 1 member and 2 members", () => {
    expect(counted(1, "member")).toBe("1 member");
    expect(counted(0, "member")).toBe("0 members");
    expect(counted(2, "member")).toBe("2 members");
  });
});
