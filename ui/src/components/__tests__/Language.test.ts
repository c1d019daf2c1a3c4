import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, test, vi } from 'vitest';
import App from '../../App.svelte';
import { DEFAULT_SETTINGS } from '../../lib/backend';
import { locale, setLanguage } from '../../lib/i18n';
import { MockBackend } from '../../lib/mockBackend';
import SettingsDialog from '../SettingsDialog.svelte';

const select = (id: string) => screen.getByTestId(id) as HTMLSelectElement;

describe('the language setting', () => {
  test('a language chosen in Settings shows at once and is saved', async () => {
    const backend = new MockBackend();
    const onclose = vi.fn();
    render(SettingsDialog, { props: { backend, settings: { ...DEFAULT_SETTINGS }, onclose } });
    expect(screen.getByRole('heading').textContent).toBe('Settings');
    expect(select('settings-language').value).toBe('system');
    await fireEvent.change(select('settings-language'), { target: { value: 'ko' } });
    expect(locale()).toBe('ko');
    expect(screen.getByRole('heading').textContent).toBe('설정');
    expect(screen.getByRole('button', { name: '저장' })).toBeTruthy();
    await fireEvent.click(screen.getByTestId('settings-save'));
    await waitFor(() => expect(onclose).toHaveBeenCalledWith({ ...DEFAULT_SETTINGS, language: 'ko' }));
    expect(backend.callsOf('save_settings')).toEqual([{ settings: { ...DEFAULT_SETTINGS, language: 'ko' } }]);
  });

  test('Cancel goes back to the saved language', async () => {
    setLanguage('ko');
    const onclose = vi.fn();
    render(SettingsDialog, { props: { backend: new MockBackend(), settings: { ...DEFAULT_SETTINGS, language: 'ko' }, onclose } });
    await fireEvent.change(select('settings-language'), { target: { value: 'en' } });
    expect(screen.getByRole('heading').textContent).toBe('Settings');
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(onclose).toHaveBeenCalledWith(null);
    expect(locale()).toBe('ko');
  });

  test('the app starts in the saved language; settings without one follow the system', async () => {
    const backend = new MockBackend();
    backend.settings = { ...DEFAULT_SETTINGS, language: 'ko' };
    const r = render(App, { props: { backend } });
    await waitFor(() => expect(locale()).toBe('ko'));
    r.unmount();
    // What a Rust side without the field sends.
    const { language: _, ...older } = DEFAULT_SETTINGS;
    backend.settings = older as typeof DEFAULT_SETTINGS;
    render(App, { props: { backend } });
    await waitFor(() => expect(locale()).toBe('en')); // jsdom's navigator.languages: en-US
  });
});
