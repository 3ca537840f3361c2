import { avatarOf } from "@/lib/avatar";

/** A person's or group's generated picture (see lib/avatar.ts); decorative: the name is always beside it. */
export function AvatarPicture({ seed, label, size = 44 }: { seed: string; label: string; size?: number }) {
  const { from, to, initials } = avatarOf(seed, label);
  return (
    <span
      className="avatar"
      aria-hidden="true"
      data-testid="avatar"
      style={{ width: size, height: size, fontSize: size * 0.4, background: `linear-gradient(135deg, ${from}, ${to})` }}
    >
      {initials}
    </span>
  );
}
