//! Notices plugged, unplugged and re-defaulted devices by polling [`list_devices`] (cpal and
//! nokhwa have no portable hot-plug events).

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::{DeviceInfo, DeviceLists, list_devices};

/// How often the device lists are read.
pub const POLL: Duration = Duration::from_secs(2);

/// What changed between two device lists; empty when nothing did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeviceChange {
    /// Ids of devices that appeared.
    pub added: Vec<String>,
    /// Ids of devices that went away.
    pub removed: Vec<String>,
    /// True when the default device of any kind is now another one.
    pub default_changed: bool,
}

impl DeviceChange {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && !self.default_changed
    }
}

/// The difference from `old` to `new`.
pub fn diff(old: &DeviceLists, new: &DeviceLists) -> DeviceChange {
    let kinds = |l: &DeviceLists| [l.cameras.clone(), l.microphones.clone(), l.speakers.clone()];
    let mut change = DeviceChange::default();
    for (o, n) in kinds(old).iter().zip(kinds(new).iter()) {
        let has = |list: &[crate::DeviceInfo], id: &str| list.iter().any(|d| d.id == id);
        change
            .added
            .extend(n.iter().filter(|d| !has(o, &d.id)).map(|d| d.id.clone()));
        change
            .removed
            .extend(o.iter().filter(|d| !has(n, &d.id)).map(|d| d.id.clone()));
        let default =
            |list: &[crate::DeviceInfo]| list.iter().find(|d| d.is_default).map(|d| d.id.clone());
        change.default_changed |= default(o) != default(n);
    }
    change
}

/// The device a setting means in `list`: the chosen one while it is plugged in, otherwise
/// the system's default (so unplugging a headset moves the call to the built-in device, and a
/// new default is followed), otherwise none: the app falls back to its test sources. A list
/// without a default (ALSA's plugin pseudo-devices on a machine without a sound card) does
/// not mean a device to use.
pub fn resolve(choice: Option<&str>, list: &[DeviceInfo]) -> Option<String> {
    choice
        .filter(|c| !c.is_empty())
        .and_then(|c| list.iter().find(|d| d.id == c || d.name == c))
        .or_else(|| list.iter().find(|d| d.is_default))
        .map(|d| d.id.clone())
}

/// Polls the device lists on a thread and calls back with the new lists on every change;
/// dropping it stops the thread.
pub struct DeviceWatcher {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl DeviceWatcher {
    pub fn start(
        on_change: impl Fn(&DeviceLists, &DeviceChange) + Send + 'static,
    ) -> std::io::Result<Self> {
        Self::with(POLL, list_devices, on_change)
    }

    /// [`DeviceWatcher::start`] with another period and lister (tests).
    pub fn with(
        period: Duration,
        list: impl Fn() -> DeviceLists + Send + 'static,
        on_change: impl Fn(&DeviceLists, &DeviceChange) + Send + 'static,
    ) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("roomcast-device-watch".into())
            .spawn(move || {
                let mut last = list();
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                    let now = list();
                    let change = diff(&last, &now);
                    if !change.is_empty() {
                        on_change(&now, &change);
                        last = now;
                    }
                }
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for DeviceWatcher {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use super::*;

    fn dev(id: &str, is_default: bool) -> DeviceInfo {
        DeviceInfo {
            id: id.into(),
            name: id.to_uppercase(),
            is_default,
        }
    }

    #[test]
    fn a_setting_resolves_to_the_chosen_device_then_the_default_then_nothing() {
        let list = [dev("builtin", true), dev("usb", false)];
        assert_eq!(resolve(Some("usb"), &list).as_deref(), Some("usb"));
        assert_eq!(
            resolve(Some("USB"), &list).as_deref(),
            Some("usb"),
            "by name"
        );
        assert_eq!(resolve(None, &list).as_deref(), Some("builtin"));
        assert_eq!(resolve(Some(""), &list).as_deref(), Some("builtin"));
        // The headset is unplugged: the default takes over.
        assert_eq!(resolve(Some("usb"), &list[..1]).as_deref(), Some("builtin"));
        // The system default moves to the headset.
        let moved = [dev("builtin", false), dev("usb", true)];
        assert_eq!(resolve(None, &moved).as_deref(), Some("usb"));
        // No default flagged: nothing, unless chosen.
        assert_eq!(resolve(None, &[dev("null", false)]), None);
        assert_eq!(
            resolve(Some("null"), &[dev("null", false)]).as_deref(),
            Some("null")
        );
        assert_eq!(resolve(Some("usb"), &[]), None);
    }

    #[test]
    fn diff_sees_added_removed_and_default_changes() {
        let old = DeviceLists {
            microphones: vec![dev("a", true), dev("b", false)],
            ..Default::default()
        };
        assert!(diff(&old, &old).is_empty());
        let new = DeviceLists {
            microphones: vec![dev("a", false), dev("b", true)],
            speakers: vec![dev("s", true)],
            ..Default::default()
        };
        let change = diff(&old, &new);
        assert_eq!(change.added, vec!["s".to_string()]);
        assert!(change.removed.is_empty());
        assert!(change.default_changed);
        let gone = diff(&new, &DeviceLists::default());
        assert_eq!(gone.removed.len(), 3);
    }

    #[test]
    fn watcher_calls_back_on_change_and_stops_on_drop() {
        let calls = Arc::new(Mutex::new(0u32));
        let polls = Arc::new(Mutex::new(0u32));
        let p = polls.clone();
        let lister = move || {
            let mut n = p.lock().expect("test lock");
            *n += 1;
            // Two devices from the third poll on: exactly one change.
            let mics = if *n >= 3 {
                vec![dev("a", true), dev("b", false)]
            } else {
                vec![dev("a", true)]
            };
            DeviceLists {
                microphones: mics,
                ..Default::default()
            }
        };
        let c = calls.clone();
        let watcher =
            DeviceWatcher::with(Duration::from_millis(5), lister, move |lists, change| {
                assert_eq!(lists.microphones.len(), 2);
                assert_eq!(change.added, vec!["b".to_string()]);
                *c.lock().expect("test lock") += 1;
            })
            .expect("thread");
        let deadline = Instant::now() + Duration::from_secs(5);
        while *polls.lock().expect("test lock") < 6 {
            assert!(Instant::now() < deadline, "watcher does not poll");
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(watcher);
        let after = *polls.lock().expect("test lock");
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(*polls.lock().expect("test lock"), after, "stopped on drop");
        assert_eq!(*calls.lock().expect("test lock"), 1);
    }
}
