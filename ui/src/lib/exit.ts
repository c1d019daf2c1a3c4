import { t, tMaybe } from './i18n';

/**
 * Why a call ended, for Home; null when it was my own choice. The server's code says it best
 * (3009 the meeting ended, 3010 the host removed me, …); then the exit_room reason; a reason the
 * UI does not know is shown as it is.
 */
export function exitMessage(reason: string, code: number | null = null, endedByMe = false): string | null {
  if (code === 3009 && endedByMe) return t('exit.youEnded');
  const known = refusalMessage(code);
  if (known) return known;
  if (reason === 'left') return null;
  return tMaybe(`exit.${reason}`) ?? t('exit.other', { reason: reason.replace(/_/g, ' ') });
}

/**
 * A sentence for the server codes that keep me out of a meeting or take me out of it (a bad or
 * expired invite, a wrong passcode, a locked room, the lobby's no, a ban), or null for others.
 */
export function refusalMessage(code: number | null | undefined): string | null {
  return code == null ? null : tMaybe(`exit.code${code}`);
}
