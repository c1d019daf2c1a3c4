/**
 * Every sentence the browser backend shows people, in one place for the catalogs
 * (keys in the comments are the suggested i18n keys).
 */
export const TEXT = {
  /** browser.screenSource */
  screenSource: 'Screen, window or tab',
  /** browser.unsupported.hosting */
  hostingUnsupported: 'A browser cannot host a meeting: use the Roomcast app, or join a server that is already running.',
  /** browser.unsupported.music */
  musicUnsupported: 'Background music plays only in the Roomcast app.',
  /** browser.unsupported.soundEffects */
  soundEffectsUnsupported: 'Sound effects play only in the Roomcast app.',
  /** browser.unsupported.audioEffects */
  audioEffectsUnsupported:
    'In a browser only echo cancellation, classic noise suppression and automatic gain are available; ' +
    'AI noise suppression, the voice changer, reverb, microphone volume, the low-cut filter and hearing yourself need the Roomcast app.',
  /** browser.needCredentials */
  needCredentials: 'Enter the SDKAppID and the UserSig for this server (ask whoever runs it for them).',
  /** browser.cannotConnect */
  cannotConnect: (url: string) => `Cannot reach the room server at ${url}; check that it is running and try again.`,
  /** browser.connectionLost */
  connectionLost: 'The connection to the room server was lost.',
  /** browser.noReply */
  noReply: (request: string, seconds: number) => `The room server did not answer ${request} within ${seconds} s.`,
  /** browser.notConnected */
  notConnected: 'Not connected to the room server.',
  /** browser.alreadyInRoom */
  alreadyInRoom: 'Already in a room: leave it first.',
  /** browser.notInRoom */
  notInRoom: 'You are not in a room.',
  /** browser.audienceCannotPublish */
  audienceCannotPublish: 'In the audience you do not publish: go on stage first.',
  /** browser.device.denied */
  deviceDenied: (device: string) => `The browser is not allowed to use the ${device}: allow it next to the address bar, then try again.`,
  /** browser.device.missing */
  deviceMissing: (device: string) => `No ${device} found.`,
  /** browser.shareCancelled */
  shareCancelled: 'Screen sharing was cancelled, or the browser is not allowed to share the screen.',
  /** browser.device.busy */
  deviceBusy: (device: string) => `The ${device} is in use by another application.`,
  /** browser.device.failed */
  deviceFailed: (device: string, detail: string) => `Cannot use the ${device}: ${detail}`,
  /** browser.device.camera, browser.device.microphone, browser.device.screen */
  devices: { camera: 'camera', microphone: 'microphone', screen: 'screen' },
  /** browser.device.cameraN, browser.device.microphoneN, browser.device.speakerN (no names before permission) */
  cameraN: (n: number) => `Camera ${n}`,
  microphoneN: (n: number) => `Microphone ${n}`,
  speakerN: (n: number) => `Speaker ${n}`,
  /** browser.defaultSpeaker */
  defaultSpeaker: 'Default speaker',
  /** browser.clickToHear */
  clickToHear: 'Your browser blocked the sound: click anywhere in the page to hear the others.',
  /** browser.storeFailed */
  storeFailed: (detail: string) => `This browser refused to save the settings: ${detail}`,
  /** browser.negotiationFailed */
  negotiationFailed: (detail: string) => `The media connection could not be set up: ${detail}`,
} as const;
