import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, test, vi } from 'vitest';
import { DEFAULT_SETTINGS } from '../../lib/backend';
import { MockBackend } from '../../lib/mockBackend';
import SettingsDialog from '../SettingsDialog.svelte';

describe('SettingsDialog', () => {
  test('saves the edited settings with save_settings', async () => {
    const backend = new MockBackend();
    const onclose = vi.fn();
    render(SettingsDialog, { props: { backend, settings: { ...DEFAULT_SETTINGS }, onclose } });
    await fireEvent.change(screen.getByTestId('settings-resolution'), { target: { value: '1080p' } });
    await fireEvent.click(screen.getByTestId('settings-save'));
    await waitFor(() => expect(onclose).toHaveBeenCalled());
    const saved = { ...DEFAULT_SETTINGS, resolution: '1080p' };
    expect(backend.callsOf('save_settings')).toEqual([{ settings: saved }]);
    expect(onclose).toHaveBeenCalledWith(saved);
  });

  test('says plainly when there is no camera; Escape cancels', async () => {
    const backend = new MockBackend({ devices: { cameras: [], microphones: [], speakers: [] } });
    const onclose = vi.fn();
    render(SettingsDialog, { props: { backend, settings: { ...DEFAULT_SETTINGS }, onclose } });
    expect(await screen.findByText('No camera found — using the test pattern.')).toBeTruthy();
    await fireEvent.keyDown(window, { key: 'Escape' });
    expect(onclose).toHaveBeenCalledWith(null);
  });
});
