//! The meeting rules on a virtual clock: who hosts, what only the host may do, guests at the
//! door (passcode, lock, ban, lobby), and messages under TRTC's limits.

use std::time::{Duration, Instant};

use roomcast_proto::{
    ErrorCode, LeaveReason, MediaKind, Role, RoomOptions, Scene, ServerMessage, Stream,
};

use super::super::tests::{A, B, C, D, all_sent_to as sent_to, drain, room, uid};
use super::*;
use crate::room::{Limits, Room, RoomEvent};

fn guest(name: &str, passcode: Option<&str>) -> Entrant {
    Entrant {
        user: uid(name),
        name: format!("{name} 김"),
        role: Role::Anchor,
        hidden: false,
        auth: Auth::Invite { host: false },
        passcode: passcode.map(str::to_string),
    }
}

fn host_and_guest() -> (Room, Instant) {
    let (mut r, t0) = room(Scene::VideoCall, Limits::default());
    r.handle_enter(t0, A, uid("host"), Role::Anchor, false)
        .expect("host enters");
    assert!(matches!(
        r.handle_enter_as(t0, B, guest("guest", None)),
        Ok(Entry::Entered(_))
    ));
    drain(&mut r);
    (r, t0)
}

fn code(r: Result<(), RoomError>) -> ErrorCode {
    r.expect_err("refused").code()
}

#[test]
fn the_first_user_sig_holder_hosts_and_guests_cannot_use_host_controls() {
    let (mut r, t0) = host_and_guest();
    assert!(r.is_host(A) && !r.is_host(B));
    assert_eq!(r.view().host, Some(uid("host")));
    assert_eq!(
        code(r.handle_mute(B, Some(&uid("host")), MediaKind::Audio, false)),
        ErrorCode::RoleNotAllowed
    );
    assert_eq!(
        code(r.handle_remove(t0, B, &uid("host"))),
        ErrorCode::RoleNotAllowed
    );
    assert_eq!(code(r.handle_end(t0, B)), ErrorCode::RoleNotAllowed);
    assert_eq!(
        code(r.handle_set_options(t0, B, RoomOptions::default())),
        ErrorCode::RoleNotAllowed
    );
    assert_eq!(
        code(r.handle_admit(t0, B, &uid("x"), true)),
        ErrorCode::RoleNotAllowed
    );
    assert!(
        drain(&mut r).is_empty(),
        "a refused request changes nothing"
    );
    // The guest's display name travels with it.
    let users = r
        .handle_enter(t0, C, uid("late"), Role::Anchor, false)
        .expect("enters");
    assert!(users.iter().any(|u| u.name == "guest 김"));
}

#[test]
fn a_locked_mute_holds_until_the_host_unlocks() {
    let (mut r, t0) = host_and_guest();
    r.handle_set_available(t0, B, MediaKind::Audio, Stream::Main, true)
        .expect("guest unmutes");
    drain(&mut r);
    r.handle_mute(A, Some(&uid("guest")), MediaKind::Audio, true)
        .expect("host mutes");
    let ev = drain(&mut r);
    assert_eq!(
        sent_to(&ev, B),
        vec![ServerMessage::Muted {
            kind: MediaKind::Audio,
            by: uid("host"),
            locked: true
        }]
    );
    assert!(sent_to(&ev, A).contains(&ServerMessage::StreamAvailable {
        user_id: uid("guest"),
        kind: MediaKind::Audio,
        stream: Stream::Main,
        available: false
    }));
    assert!(
        !r.forwards(B, MediaKind::Audio, Stream::Main),
        "the SFU drops it"
    );
    assert!(r.forwards(B, MediaKind::Video, Stream::Main));
    assert_eq!(
        code(r.handle_set_available(t0, B, MediaKind::Audio, Stream::Main, true)),
        ErrorCode::MutedByHost
    );
    r.handle_unlock(A, Some(&uid("guest")), MediaKind::Audio)
        .expect("host unlocks");
    assert_eq!(
        sent_to(&drain(&mut r), B),
        vec![ServerMessage::Unlocked {
            kind: MediaKind::Audio
        }]
    );
    r.handle_set_available(t0, B, MediaKind::Audio, Stream::Main, true)
        .expect("unlocked: may unmute");
    assert!(r.forwards(B, MediaKind::Audio, Stream::Main));
}

#[test]
fn mute_all_spares_the_host_and_an_unlocked_mute_can_be_undone() {
    let (mut r, t0) = host_and_guest();
    r.handle_enter_as(t0, C, guest("other", None))
        .expect("enters");
    drain(&mut r);
    r.handle_mute(A, None, MediaKind::Video, false)
        .expect("mute all");
    let ev = drain(&mut r);
    assert!(
        sent_to(&ev, A)
            .iter()
            .all(|m| !matches!(m, ServerMessage::Muted { .. }))
    );
    for m in [B, C] {
        assert!(sent_to(&ev, m).contains(&ServerMessage::Muted {
            kind: MediaKind::Video,
            by: uid("host"),
            locked: false
        }));
    }
    r.handle_set_available(t0, C, MediaKind::Video, Stream::Main, true)
        .expect("not locked: may turn the camera back on");
    assert!(r.forwards(C, MediaKind::Video, Stream::Main));
}

#[test]
fn a_removed_guest_cannot_come_back() {
    let (mut r, t0) = host_and_guest();
    r.handle_remove(t0, A, &uid("guest")).expect("host removes");
    let ev = drain(&mut r);
    assert!(ev.iter().any(|e| matches!(e, RoomEvent::Remove { member, code: ErrorCode::RemovedByHost, .. } if *member == B)));
    assert!(sent_to(&ev, A).iter().any(|m| matches!(
        m,
        ServerMessage::UserLeave {
            reason: LeaveReason::Removed,
            ..
        }
    )));
    let again = r.handle_enter_as(t0, C, guest("guest", None));
    assert_eq!(again.unwrap_err().code(), ErrorCode::UserBanned);
    assert_eq!(
        code(r.handle_remove(t0, A, &uid("nobody"))),
        ErrorCode::UserNotFound
    );
}

#[test]
fn passcode_and_lock_keep_guests_out_but_not_the_host() {
    let (mut r, t0) = room(Scene::VideoCall, Limits::default());
    let mut host = Entrant::trusted(uid("host"), Role::Anchor, false);
    host.passcode = Some("4821".into());
    r.handle_enter_as(t0, A, host)
        .expect("host creates with a passcode");
    assert!(r.view().passcode);
    let e = |r: &mut Room, m, p| r.handle_enter_as(t0, m, guest("g", p)).map(|_| ());
    assert_eq!(code(e(&mut r, B, None)), ErrorCode::PasscodeWrong);
    assert_eq!(code(e(&mut r, B, Some("0000"))), ErrorCode::PasscodeWrong);
    e(&mut r, B, Some("4821")).expect("right passcode");
    let locked = RoomOptions {
        locked: true,
        lobby: false,
        passcode: Some(Some("4821".into())),
    };
    r.handle_set_options(t0, A, locked).expect("host locks");
    assert!(
        sent_to(&drain(&mut r), B)
            .iter()
            .any(|m| matches!(m, ServerMessage::RoomChanged { room } if room.locked))
    );
    let late = r.handle_enter_as(t0, C, guest("late", Some("4821")));
    assert_eq!(late.unwrap_err().code(), ErrorCode::RoomLocked);
    // Someone the app vouched for (a UserSig) still enters a locked room.
    r.handle_enter(t0, D, uid("colleague"), Role::Anchor, false)
        .expect("UserSig holder");
}

#[test]
fn the_lobby_holds_guests_until_the_host_decides() {
    let (mut r, t0) = room(Scene::VideoCall, Limits::default());
    r.handle_enter(t0, A, uid("host"), Role::Anchor, false)
        .expect("host");
    let lobby = RoomOptions {
        lobby: true,
        ..RoomOptions::default()
    };
    r.handle_set_options(t0, A, lobby).expect("lobby on");
    drain(&mut r);
    assert_eq!(
        r.handle_enter_as(t0, B, guest("ann", None)),
        Ok(Entry::Waiting)
    );
    assert_eq!(
        r.handle_enter_as(t0, C, guest("bo", None)),
        Ok(Entry::Waiting)
    );
    let ev = drain(&mut r);
    assert_eq!(
        sent_to(&ev, A),
        vec![
            ServerMessage::LobbyJoined {
                user_id: uid("ann"),
                name: "ann 김".into()
            },
            ServerMessage::LobbyJoined {
                user_id: uid("bo"),
                name: "bo 김".into()
            },
        ]
    );
    assert_eq!(r.role_of(B), None, "not a member while waiting");
    assert_eq!(
        code(r.handle_custom(t0, B, 1, "hi".into(), true, true)),
        ErrorCode::NotInRoom
    );

    r.handle_admit(t0, A, &uid("ann"), true).expect("admit");
    let ev = drain(&mut r);
    assert!(ev.iter().any(|e| matches!(e, RoomEvent::Admitted { member, users, .. } if *member == B && users.len() == 1)));
    assert!(sent_to(&ev, A).contains(&ServerMessage::LobbyLeft {
        user_id: uid("ann")
    }));
    assert_eq!(r.role_of(B), Some(Role::Anchor));

    r.handle_admit(t0, A, &uid("bo"), false).expect("deny");
    let ev = drain(&mut r);
    assert!(ev.iter().any(|e| matches!(e, RoomEvent::Remove { member, code: ErrorCode::LobbyDenied, .. } if *member == C)));
    assert_eq!(
        code(r.handle_admit(t0, A, &uid("bo"), true)),
        ErrorCode::UserNotFound
    );

    // Someone who gives up waiting leaves the host's list, by exiting or by closing.
    r.handle_enter_as(t0, D, guest("cy", None)).expect("waits");
    drain(&mut r);
    r.handle_exit(t0, D);
    assert_eq!(
        sent_to(&drain(&mut r), A),
        vec![ServerMessage::LobbyLeft { user_id: uid("cy") }]
    );
    let e = MemberId(5);
    r.handle_enter_as(t0, e, guest("dee", None)).expect("waits");
    drain(&mut r);
    r.handle_connection_lost(t0, e);
    let ev = drain(&mut r);
    assert!(sent_to(&ev, A).contains(&ServerMessage::LobbyLeft {
        user_id: uid("dee")
    }));
    assert!(
        ev.iter()
            .any(|x| matches!(x, RoomEvent::Remove { member, .. } if *member == e))
    );
    assert!(!r.has_lobby());
}

#[test]
fn ending_the_meeting_removes_everyone_and_destroys_the_room() {
    let (mut r, t0) = host_and_guest();
    r.handle_end(t0, A).expect("host ends");
    let ev = drain(&mut r);
    for m in [A, B] {
        assert!(ev.iter().any(|e| matches!(e, RoomEvent::Remove { member, code: ErrorCode::MeetingEnded, .. } if *member == m)));
    }
    assert!(ev.contains(&RoomEvent::Ended));
    assert_eq!(ev.last(), Some(&RoomEvent::Destroyed));
    assert!(r.is_destroyed() && r.is_empty());
}

#[test]
fn the_host_role_passes_to_the_next_who_may_host() {
    let (mut r, t0) = host_and_guest();
    r.handle_enter(t0, C, uid("cohost"), Role::Anchor, false)
        .expect("enters");
    drain(&mut r);
    r.handle_exit(t0, A);
    assert!(r.is_host(C), "a UserSig holder takes over, not the guest");
    let ev = drain(&mut r);
    assert!(sent_to(&ev, B).iter().any(
        |m| matches!(m, ServerMessage::RoomChanged { room } if room.host == Some(uid("cohost")))
    ));
    r.handle_exit(t0, C);
    assert_eq!(r.view().host, None, "guests never host");
}

#[test]
fn a_sender_past_thirty_a_second_is_refused_and_nobody_receives_more() {
    let (mut r, t0) = host_and_guest();
    let mut refused = 0;
    let mut got = Vec::new();
    // 100 messages a second for 3 s.
    for i in 0..300u64 {
        let now = t0 + Duration::from_millis(i * 10);
        match r.handle_custom(now, B, 1, format!("m{i}"), true, true) {
            Ok(()) => {}
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::MessageRateLimited);
                refused += 1;
            }
        }
        for msg in sent_to(&drain(&mut r), A) {
            if let ServerMessage::Custom { seq, .. } = msg {
                got.push((now, seq));
            }
        }
    }
    assert_eq!(got.len(), 90, "30 per second get through");
    assert_eq!(refused, 210);
    // Any 1 s window holds at most 30 of them.
    for (i, (t, _)) in got.iter().enumerate() {
        let in_window = got[i..]
            .iter()
            .take_while(|(u, _)| u.duration_since(*t) < Duration::from_secs(1))
            .count();
        assert!(in_window <= 30, "{in_window} within a second from {i}");
    }
    let seqs: Vec<u64> = got.iter().map(|(_, s)| *s).collect();
    assert_eq!(seqs, (1..=90).collect::<Vec<_>>(), "in order, numbered");

    let later = t0 + Duration::from_secs(10);
    let big = "x".repeat(2048);
    assert_eq!(
        code(r.handle_custom(later, B, 1, big, true, true)),
        ErrorCode::CustomMessageTooLarge
    );
    assert_eq!(
        code(r.handle_custom(later, B, 11, "x".into(), true, true)),
        ErrorCode::InvalidParameter
    );
    r.handle_custom(later, B, 1, "x".repeat(1024), false, false)
        .expect("1 KB is allowed");
    assert!(matches!(
        &sent_to(&drain(&mut r), A)[..],
        [ServerMessage::Custom {
            reliable: false,
            ordered: false,
            ..
        }]
    ));
}

#[test]
fn raised_hands_keep_their_order() {
    let (mut r, t0) = host_and_guest();
    r.handle_enter(t0, C, uid("c"), Role::Anchor, false)
        .expect("enters");
    drain(&mut r);
    r.handle_raise_hand(C, true).expect("c first");
    r.handle_raise_hand(B, true).expect("then guest");
    r.handle_raise_hand(C, true).expect("again: no change");
    let ev = drain(&mut r);
    assert_eq!(
        sent_to(&ev, A),
        vec![
            ServerMessage::Hand {
                user_id: uid("c"),
                hand: Some(1)
            },
            ServerMessage::Hand {
                user_id: uid("guest"),
                hand: Some(2)
            },
        ]
    );
    let users = r
        .handle_enter(t0, D, uid("late"), Role::Anchor, false)
        .expect("late");
    let hands: Vec<_> = users
        .iter()
        .map(|u| (u.user_id.as_str().to_string(), u.hand))
        .collect();
    assert!(hands.contains(&("c".into(), Some(1))) && hands.contains(&("guest".into(), Some(2))));
    r.handle_raise_hand(C, false).expect("down");
    assert!(sent_to(&drain(&mut r), A).contains(&ServerMessage::Hand {
        user_id: uid("c"),
        hand: None
    }));
}

#[test]
fn options_without_a_passcode_keep_it_and_null_clears_it() {
    let (mut r, t0) = room(Scene::VideoCall, Limits::default());
    let mut host = Entrant::trusted(uid("host"), Role::Anchor, false);
    host.passcode = Some("4821".into());
    r.handle_enter_as(t0, A, host).expect("host");
    let keep = RoomOptions {
        locked: false,
        lobby: false,
        passcode: None,
    };
    r.handle_set_options(t0, A, keep)
        .expect("toggle without the passcode");
    assert!(r.view().passcode, "kept");
    let clear = RoomOptions {
        passcode: Some(None),
        ..RoomOptions::default()
    };
    r.handle_set_options(t0, A, clear).expect("clear");
    assert!(!r.view().passcode);
    r.handle_enter_as(t0, B, guest("g", None))
        .expect("no passcode needed now");
}
