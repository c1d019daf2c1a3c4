/** enumerateDevices as the UI's DeviceList. */
import type { Device, DeviceList } from '../backend';
import { TEXT } from './strings';

type Info = Pick<MediaDeviceInfo, 'kind' | 'deviceId' | 'label' | 'groupId'>;

/**
 * Chromium lists a "default" (and on Windows a "communications") entry besides the devices:
 * those are not offered, but mark which device is the default. Before permission is granted
 * labels are empty: the devices are numbered then.
 */
export function toDeviceList(all: readonly Info[]): DeviceList {
  const pick = (kind: MediaDeviceKind, name: (n: number) => string): Device[] => {
    const list = all.filter((d) => d.kind === kind);
    const def = list.find((d) => d.deviceId === 'default');
    return list
      .filter((d) => d.deviceId && d.deviceId !== 'default' && d.deviceId !== 'communications')
      .map((d, i) => ({ id: d.deviceId, name: d.label || name(i + 1), isDefault: def ? d.groupId === def.groupId : i === 0 }));
  };
  const speakers = pick('audiooutput', TEXT.speakerN);
  return {
    cameras: pick('videoinput', TEXT.cameraN),
    microphones: pick('audioinput', TEXT.microphoneN),
    // Without a list (or setSinkId) the browser still plays on its default output.
    speakers: speakers.length ? speakers : [{ id: 'default', name: TEXT.defaultSpeaker, isDefault: true }],
  };
}
