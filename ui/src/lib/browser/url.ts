/**
 * Joining from a link: `/?app=ID&user=NAME&sig=SIG&room=R[&role=..][&scene=..][&audio=0]
 * [&video=0][&autojoin=1]`. The same parameters may travel in the fragment (`/#app=..`), which
 * browsers never send to a server or put in a referrer; the fragment wins where both say.
 *
 * Or with an invite: `/#invite=GRANT&name=NAME[&passcode=P][&autojoin=1]`. The grant, the name
 * and the passcode are read from the fragment only (a query would reach the server's logs);
 * the grant names the room and the role, and the UserID is derived from the name.
 */
import { isLiveScene, parseInviteLink, guestUserId, type JoinArgs, type Role, type Scene } from '../backend';

export interface LinkJoin {
  args: JoinArgs;
  /** Publish the microphone / camera (`audio=0`, `video=0` turn them off). */
  audio: boolean;
  video: boolean;
  /** Enter at once, without the pre-join check. */
  autojoin: boolean;
}

const SCENES: readonly Scene[] = ['videocall', 'audiocall', 'live', 'voicechatroom'];
const ROLES: readonly Role[] = ['anchor', 'audience'];

/** A few random letters and digits that keep two guests of the same name apart. */
const randomSuffix = (): string => Math.random().toString(36).slice(2, 8);

/**
 * The join a link asks for; null unless it names the app, user, UserSig and room, or carries
 * an invite and a name.
 */
export function parseJoinLink(search: string, hash: string, origin: string, suffix: () => string = randomSuffix): LinkJoin | null {
  const q = new URLSearchParams(search);
  const fragment = new URLSearchParams(hash.replace(/^#/, ''));
  for (const [k, v] of fragment) q.set(k, v);
  const devices = { audio: q.get('audio') !== '0', video: q.get('video') !== '0', autojoin: q.get('autojoin') === '1' };
  const grant = fragment.get('invite')?.trim();
  if (grant) {
    const name = fragment.get('name')?.trim();
    if (!name) return null; // Home asks for it, with the link filled in (pendingInvite)
    // A grant that cannot be read still goes to joinRoom, which says what is wrong with it.
    const invite = parseInviteLink(`${origin}/#invite=${grant}`);
    const role = invite?.role ?? 'anchor';
    const scene = SCENES.find((s) => s === q.get('scene')) ?? (role === 'audience' ? 'live' : 'videocall');
    const passcode = fragment.get('passcode') || null;
    return {
      args: {
        server: origin,
        room: invite?.room ?? '',
        userId: guestUserId(name, suffix()),
        role,
        scene,
        sdkAppId: null,
        userSig: null,
        invite: grant,
        displayName: name,
        passcode,
      },
      ...devices,
    };
  }
  const app = Number(q.get('app'));
  const user = q.get('user')?.trim();
  const sig = q.get('sig')?.trim();
  const room = q.get('room')?.trim();
  if (!(Number.isInteger(app) && app > 0) || !user || !sig || !room) return null;
  const scene = SCENES.find((s) => s === q.get('scene')) ?? 'videocall';
  const role = (isLiveScene(scene) && ROLES.find((r) => r === q.get('role'))) || 'anchor';
  return {
    args: { server: origin, room, userId: user, role, scene, sdkAppId: app, userSig: sig },
    ...devices,
  };
}

/** `ws://host/ws` for a page at `http://host/…`, `wss://` for https. */
export function signalingUrl(loc: { protocol: string; host: string }): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/ws`;
}
