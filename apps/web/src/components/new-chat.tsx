"use client";
import { useState, type FormEvent } from "react";
import { membersProblem, parseAddressList, withoutMe } from "@/lib/addresses";

/** Start a DM (one address) or a group (a title and several addresses); a chat with nobody but me is refused, and a
 * "group" with one other person — which the server makes a DM — says so before it is started. */
export function NewChat({
  me,
  onDm,
  onGroup,
  onOpened,
}: {
  me: string;
  onDm(peer: string): Promise<string>;
  onGroup(title: string, members: string[]): Promise<string>;
  onOpened(chatId: string): void;
}) {
  const [peer, setPeer] = useState("");
  const [title, setTitle] = useState("");
  const [members, setMembers] = useState("");
  const [busy, setBusy] = useState<"dm" | "group" | null>(null);
  const [error, setError] = useState<{ form: "dm" | "group"; text: string } | null>(null);

  async function run(form: "dm" | "group", open: () => Promise<string>) {
    setBusy(form);
    setError(null);
    try {
      onOpened(await open());
    } catch (e) {
      setError({ form, text: e instanceof Error ? e.message : "The chat could not be started" });
      setBusy(null);
    }
  }

  function startDm(event: FormEvent) {
    event.preventDefault();
    const parsed = parseAddressList(peer);
    const problem = parsed.valid.length + parsed.invalid.length > 1 ? "A DM is with one person: start a group" : membersProblem(parsed, me);
    if (problem) return setError({ form: "dm", text: problem });
    void run("dm", () => onDm(parsed.valid[0]!));
  }

  const groupMembers = parseAddressList(members);
  const others = withoutMe(groupMembers.valid, me);
  const onlyOne = others.length === 1 && groupMembers.invalid.length === 0;

  function startGroup(event: FormEvent) {
    event.preventDefault();
    const problem = membersProblem(groupMembers, me);
    if (problem) return setError({ form: "group", text: problem });
    // Two people are a DM (the server makes one): opened as a DM, without the group's name.
    void run("group", () => (onlyOne ? onDm(others[0]!) : onGroup(title.trim(), others)));
  }

  const shown = (form: "dm" | "group") =>
    error?.form === form && (
      <p className="error" role="alert" data-testid={`${form}-error`}>
        {error.text}
      </p>
    );

  return (
    <>
      <form className="card" onSubmit={startDm} aria-labelledby="dm-title">
        <h2 id="dm-title">Start a DM</h2>
        <label className="visually-hidden" htmlFor="dm-address">
          Address to message
        </label>
        <input
          id="dm-address"
          data-testid="dm-address"
          placeholder="0x…"
          autoComplete="off"
          spellCheck={false}
          value={peer}
          onChange={(e) => setPeer(e.target.value)}
        />
        <button data-testid="dm-start" type="submit" disabled={busy !== null}>
          {busy === "dm" ? "Opening…" : "Start DM"}
        </button>
        {shown("dm")}
      </form>

      <form className="card" onSubmit={startGroup} aria-labelledby="group-title">
        <h2 id="group-title">New group</h2>
        <label htmlFor="group-name" className="visually-hidden">
          Group name
        </label>
        <input
          id="group-name"
          data-testid="group-title"
          placeholder="Group name (optional)"
          maxLength={200}
          value={title}
          onChange={(e) => setTitle(e.target.value)}
        />
        <label htmlFor="group-members" className="visually-hidden">
          Members&apos; addresses
        </label>
        <textarea
          id="group-members"
          data-testid="group-members"
          placeholder="Members' addresses, one per line"
          rows={2}
          spellCheck={false}
          value={members}
          onChange={(e) => setMembers(e.target.value)}
        />
        {onlyOne && (
          <p className="muted" role="status" data-testid="group-dm-warning">
            With one other person this is a DM, not a group{title.trim() ? ", and it takes no name" : ""}: add at least
            one more member for a group.
          </p>
        )}
        <button data-testid="group-create" type="submit" disabled={busy !== null}>
          {busy === "group" ? "Opening…" : onlyOne ? "Start DM instead" : "Create group"}
        </button>
        {shown("group")}
      </form>
    </>
  );
}
