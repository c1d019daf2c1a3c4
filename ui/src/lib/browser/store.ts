/**
 * What the desktop app keeps in its settings database, kept by the browser in localStorage:
 * settings, audio effects, recent rooms and call history. Unreadable values fall back to the
 * defaults; a storage that refuses writes (private windows, quota) makes saves reject.
 */
import {
  DEFAULT_AUDIO_EFFECTS,
  DEFAULT_SETTINGS,
  type AudioEffects,
  type BackendError,
  type CallRecord,
  type RecentRoom,
  type Settings,
} from '../backend';
import { TEXT } from './strings';

const PREFIX = 'roomcast.';
const MAX_RECENT = 10;
const MAX_HISTORY = 50;

export class LocalStore {
  constructor(private readonly storage: Storage | undefined) {}

  settings(): Settings {
    return { ...DEFAULT_SETTINGS, ...this.readObject('settings') };
  }

  saveSettings(s: Settings): void {
    this.write('settings', s);
  }

  audioEffects(): AudioEffects {
    return { ...DEFAULT_AUDIO_EFFECTS, ...this.readObject('audioEffects') };
  }

  saveAudioEffects(fx: AudioEffects): void {
    this.write('audioEffects', fx);
  }

  recentRooms(): RecentRoom[] {
    return this.readArray<RecentRoom>('recentRooms');
  }

  addRecentRoom(r: RecentRoom): void {
    const rest = this.recentRooms().filter((x) => x.server !== r.server || x.room !== r.room);
    this.tryWrite('recentRooms', [r, ...rest].slice(0, MAX_RECENT));
  }

  callHistory(): CallRecord[] {
    return this.readArray<CallRecord>('callHistory');
  }

  addCall(c: CallRecord): void {
    this.tryWrite('callHistory', [c, ...this.callHistory()].slice(0, MAX_HISTORY));
  }

  private read(name: string): unknown {
    try {
      const text = this.storage?.getItem(PREFIX + name);
      return text == null ? null : JSON.parse(text);
    } catch {
      return null;
    }
  }

  private readObject(name: string): Record<string, unknown> {
    const v = this.read(name);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  }

  private readArray<T>(name: string): T[] {
    const v = this.read(name);
    return Array.isArray(v) ? (v as T[]) : [];
  }

  private write(name: string, value: unknown): void {
    try {
      if (!this.storage) throw new Error('no localStorage');
      this.storage.setItem(PREFIX + name, JSON.stringify(value));
    } catch (e) {
      throw { kind: 'store', message: TEXT.storeFailed(e instanceof Error ? e.message : String(e)) } satisfies BackendError;
    }
  }

  /** For lists the person did not ask to save: losing them is no reason to fail a call. */
  private tryWrite(name: string, value: unknown): void {
    try {
      this.write(name, value);
    } catch {
      /* nothing to tell */
    }
  }
}
