"use client";
import { useId, useState } from "react";
import type { Explained as Info } from "@/lib/status-info";

/** A badge (icon, colour, label) whose one-line explanation shows on hover and on tap — phones have no hover. */
export function Explained({ info, testId, className = "" }: { info: Info; testId: string; className?: string }) {
  const [open, setOpen] = useState(false);
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
        onClick={() => setOpen((shown) => !shown)}
        onBlur={() => setOpen(false)}
      >
        <span className="icon" aria-hidden="true">
          {info.icon}
        </span>
        {info.label}
      </button>
      <span role="tooltip" id={tip} className="tip" data-open={open} data-testid={`${testId}-explanation`}>
        {info.explanation}
      </span>
    </span>
  );
}
