"use client";
import { useId, useState } from "react";
import type { Explained as Info } from "@/lib/status-info";

/** An explanation above a badge closer than this to the top of the screen would be cut off. */
const ROOM_ABOVE_PX = 160;

/** A badge (icon, colour, label) whose one-line explanation shows on hover and on tap — phones have no hover. */
export function Explained({ info, testId, className = "" }: { info: Info; testId: string; className?: string }) {
  const [open, setOpen] = useState(false);
  // Where there is room for it: above by default in a message (the last one's would open under the composer), below
  // near the top of the screen.
  const [below, setBelow] = useState(false);
  const tip = useId();
  return (
    <span className={`explained ${className}`}>
      <button
        type="button"
        className="badge"
        data-testid={testId}
        data-kind={info.kind}
        aria-describedby={tip}
        aria-expanded={open}
        onClick={(event) => {
          setBelow(event.currentTarget.getBoundingClientRect().top < ROOM_ABOVE_PX);
          setOpen((shown) => !shown);
        }}
        onBlur={() => setOpen(false)}
      >
        <span className="icon" aria-hidden="true">
          {info.icon}
        </span>
        {info.label}
      </button>
      <span role="tooltip" id={tip} className="tip" data-open={open} data-below={below} data-testid={`${testId}-explanation`}>
        {info.explanation}
      </span>
    </span>
  );
}
