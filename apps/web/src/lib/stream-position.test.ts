import { describe, expect, it } from "vitest";
import { cut, paged, seenLive, snapshot, type StreamPosition } from "./stream-position";

const at = (highestRev: number): StreamPosition => ({ highestRev, catchUp: null });

describe("StreamPosition", () => {
  it("moves with live revs, and gives the same position back when nothing changed", () => {
    const position = at(5);
    expect(seenLive(position, 7)).toEqual(at(7));
    expect(seenLive(position, 5)).toBe(position);
    expect(seenLive(position, 3)).toBe(position);
  });

  it("holds live revs past a hole being paged until the catch-up completes", () => {
    const open = cut(at(12), 4, 10); // joined from rev 4, the ack paged through 10, live had reached 12
    expect(open).toEqual({ highestRev: 10, catchUp: { cursor: 10, liveMax: 12 } });
    const live = seenLive(open, 30);
    expect(live).toEqual({ highestRev: 10, catchUp: { cursor: 10, liveMax: 30 } });
    expect(seenLive(live, 20)).toBe(live);
    const page = paged(live, 25, null);
    expect(page).toEqual({ highestRev: 25, catchUp: { cursor: 25, liveMax: 30 } });
    expect(paged(page, 28, 28)).toEqual(at(30)); // done: what live saw counts now
  });

  it("a cut join with no changes resumes from where it asked", () => {
    expect(cut(at(0), 7, undefined)).toEqual({ highestRev: 7, catchUp: { cursor: 7, liveMax: 0 } });
  });

  it("a snapshot closes any catch-up at the highest of what it covers and what was seen", () => {
    expect(snapshot({ highestRev: 3, catchUp: { cursor: 3, liveMax: 9 } }, 6)).toEqual(at(9));
    expect(snapshot(at(3), 6)).toEqual(at(6));
  });

  it("a page with no catch-up open changes nothing", () => {
    const position = at(4);
    expect(paged(position, 9, 9)).toBe(position);
  });
});
