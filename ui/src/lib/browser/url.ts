/**
 * Joining from a link: `/?app=ID&user=NAME&sig=SIG&room=R[&role=..][&scene=..][&audio=0]
 * [&video=0][&autojoin=1]`. The same parameters may travel in the fragment (`/#app=..`), which
 * browsers never send to a server or put in a referrer; the fragment wins where both say.
 */
import { isLiveScene, type JoinArgs, type Role, type Scene } from '../backend';

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

/** The join a link asks for; null unless it names the app, user, UserSig and room. */
export function parseJoinLink(search: string, hash: string, origin: string): LinkJoin | null {
  const q = new URLSearchParams(search);
  for (const [k, v] of new URLSearchParams(hash.replace(/^#/, ''))) q.set(k, v);
  const app = Number(q.get('app'));
  const user = q.get('user')?.trim();
  const sig = q.get('sig')?.trim();
  const room = q.get('room')?.trim();
  if (!(Number.isInteger(app) && app > 0) || !user || !sig || !room) return null;
  const scene = SCENES.find((s) => s === q.get('scene')) ?? 'videocall';
  const role = (isLiveScene(scene) && ROLES.find((r) => r === q.get('role'))) || 'anchor';
  return {
    args: { server: origin, room, userId: user, role, scene, sdkAppId: app, userSig: sig },
    audio: q.get('audio') !== '0',
    video: q.get('video') !== '0',
    autojoin: q.get('autojoin') === '1',
  };
}

/** `ws://host/ws` for a page at `http://host/…`, `wss://` for https. */
export function signalingUrl(loc: { protocol: string; host: string }): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/ws`;
}
