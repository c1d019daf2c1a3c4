/**
 * The sentences the browser backend shows people, read from the message catalogs at the
 * moment they are shown (so they follow the language).
 */
import { t } from '../i18n';

type Device = 'camera' | 'microphone' | 'screen';
const device = (d: string): string => t(`browser.device.${d as Device}`);

export const TEXT = {
  get screenSource() { return t('browser.screenSource'); },
  get hostingUnsupported() { return t('browser.unsupported.hosting'); },
  get inviteUnsupported() { return t('browser.unsupported.invite'); },
  get musicUnsupported() { return t('browser.unsupported.music'); },
  get soundEffectsUnsupported() { return t('browser.unsupported.soundEffects'); },
  get audioEffectsUnsupported() { return t('browser.unsupported.audioEffects'); },
  get videoEffectsUnsupported() { return t('browser.unsupported.videoEffects'); },
  get needCredentials() { return t('browser.needCredentials'); },
  cannotConnect: (url: string) => t('browser.cannotConnect', { url }),
  get connectionLost() { return t('browser.connectionLost'); },
  noReply: (request: string, seconds: number) => t('browser.noReply', { request, seconds }),
  get notConnected() { return t('browser.notConnected'); },
  get alreadyInRoom() { return t('browser.alreadyInRoom'); },
  get notInRoom() { return t('browser.notInRoom'); },
  get audienceCannotPublish() { return t('browser.audienceCannotPublish'); },
  deviceDenied: (d: string) => t('browser.device.denied', { device: device(d) }),
  deviceMissing: (d: string) => t('browser.device.missing', { device: device(d) }),
  get needsHttps() { return t('browser.needsHttps'); },
  get shareCancelled() { return t('browser.shareCancelled'); },
  deviceBusy: (d: string) => t('browser.device.busy', { device: device(d) }),
  deviceFailed: (d: string, detail: string) => t('browser.device.failed', { device: device(d), detail }),
  /** The device names, for the sentences above. */
  devices: { camera: 'camera', microphone: 'microphone', screen: 'screen' } as Record<Device, Device>,
  cameraN: (n: number) => t('browser.device.cameraN', { n }),
  microphoneN: (n: number) => t('browser.device.microphoneN', { n }),
  speakerN: (n: number) => t('browser.device.speakerN', { n }),
  get defaultSpeaker() { return t('browser.defaultSpeaker'); },
  get clickToHear() { return t('browser.clickToHear'); },
  storeFailed: (detail: string) => t('browser.storeFailed', { detail }),
  negotiationFailed: (detail: string) => t('browser.negotiationFailed', { detail }),
  get inviteUnreadable() { return t('browser.inviteUnreadable'); },
  get joinCancelled() { return t('browser.joinCancelled'); },
  lockedByHost: (d: 'camera' | 'microphone') => t('browser.lockedByHost', { device: device(d) }),
  chatTooLong: (bytes: number, max: number) => t('browser.chatTooLong', { bytes, max }),
  get pickOneEmoji() { return t('browser.pickOneEmoji'); },
};
