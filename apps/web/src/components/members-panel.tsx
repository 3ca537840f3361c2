"use client";
import { useState, type FormEvent } from "react";
import { ConfirmButton } from "@/components/confirm-button";
import { api } from "@/lib/api";
import { membersProblem, parseAddressList, withoutMe } from "@/lib/addresses";
import { isDm } from "@/lib/chat-title";
import { saveLabel } from "@/lib/contacts";
import type { Session } from "@/lib/session";
import type { Chat } from "@/lib/types";

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** Who is in the chat (live: `chat:update` keeps it current), names this device gives them, and for groups: adding
 * members (who see the chat from then on, unless its history is shared with them), removing them (the creator),
 * leaving. */
export function MembersPanel({
  chat,
  session,
  nameOf,
  isOnline,
  onChat,
  onLeft,
}: {
  chat: Chat;
  session: Session;
  nameOf(address: string): string;
  isOnline(address: string): boolean;
  onChat(chat: Chat): void;
  onLeft(): void;
}) {
  const me = session.address;
  const group = !isDm(chat);
  const creator = same(chat.created_by, me);
  const [adding, setAdding] = useState("");
  const [shareHistory, setShareHistory] = useState(false);
  const [naming, setNaming] = useState<string | null>(null);
  const [label, setLabel] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function act(call: () => Promise<{ chat: Chat }>, after?: () => void) {
    setBusy(true);
    setError(null);
    try {
      onChat((await call()).chat);
      after?.();
    } catch (e) {
      setError(e instanceof Error ? e.message : "That did not work");
    } finally {
      setBusy(false);
    }
  }

  function add(event: FormEvent) {
    event.preventDefault();
    const parsed = parseAddressList(adding);
    const fresh = { ...parsed, valid: parsed.valid.filter((a) => !chat.members.some((m) => same(m, a))) };
    const problem = fresh.valid.length === 0 && parsed.valid.length > 0 ? "Already in this group" : membersProblem(fresh, me);
    if (problem) return setError(problem);
    void act(
      () => api.addMembers(session.token, chat.id, withoutMe(fresh.valid, me), shareHistory),
      () => {
        setAdding("");
        setShareHistory(false);
      },
    );
  }

  function name(event: FormEvent, address: string) {
    event.preventDefault();
    saveLabel(address, label);
    setNaming(null);
  }

  return (
    <section className="members" data-testid="members-panel" aria-label="Members">
      <ul>
        {chat.members.map((member) => (
          <li key={member} data-testid="member" data-address={member}>
            <span className="dot" data-online={isOnline(member) ? "true" : "false"} aria-hidden="true" />
            {naming === member ? (
              <form className="row" onSubmit={(e) => name(e, member)}>
                <input
                  aria-label="Name for this contact"
                  data-testid="member-label"
                  autoFocus
                  maxLength={40}
                  value={label}
                  onChange={(e) => setLabel(e.target.value)}
                />
                <button type="submit" className="secondary">
                  Save
                </button>
              </form>
            ) : (
              <>
                <span className="member-name">
                  {nameOf(member)}
                  {same(member, chat.created_by) && group ? <span className="muted"> · created the group</span> : null}
                </span>
                {!same(member, me) && (
                  <button
                    className="link"
                    data-testid="member-rename"
                    aria-label={`Name ${nameOf(member)}`}
                    onClick={() => {
                      setNaming(member);
                      setLabel("");
                    }}
                  >
                    Name
                  </button>
                )}
                {group && creator && !same(member, me) && (
                  <ConfirmButton
                    label="Remove"
                    question={`Remove ${nameOf(member)} from the group?`}
                    testId="member-remove"
                    ariaLabel={`Remove ${nameOf(member)}`}
                    disabled={busy}
                    onConfirm={() => void act(() => api.removeMember(session.token, chat.id, member))}
                  />
                )}
              </>
            )}
          </li>
        ))}
      </ul>
      {group && (
        <form className="row" onSubmit={add}>
          <label className="visually-hidden" htmlFor="add-members">
            Addresses to add
          </label>
          <input
            id="add-members"
            data-testid="add-members"
            placeholder="Add members: 0x…"
            autoComplete="off"
            spellCheck={false}
            value={adding}
            onChange={(e) => setAdding(e.target.value)}
          />
          <button type="submit" className="secondary" data-testid="add-members-submit" disabled={busy}>
            Add
          </button>
          <label className="share-history">
            <input
              type="checkbox"
              data-testid="share-history"
              checked={shareHistory}
              onChange={(e) => setShareHistory(e.target.checked)}
            />
            Share chat history with new members
          </label>
        </form>
      )}
      {group && (
        <ConfirmButton
          label="Leave group"
          question="Leave this group? You will no longer see its new messages."
          className="secondary danger"
          testId="leave-group"
          disabled={busy}
          onConfirm={() => void act(() => api.removeMember(session.token, chat.id, me), onLeft)}
        />
      )}
      {error && (
        <p className="error" role="alert" data-testid="members-error">
          {error}
        </p>
      )}
    </section>
  );
}
