//! One WebSocket per client: parse requests, authenticate `enter_room` against the app's
//! key, hand everything else to the media worker, and relay the room's events back.
//!
//! A bad frame gets an error reply on this connection only; nothing here can disturb
//! another client.

use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::ws::{Message, WebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::response::IntoResponse;
use futures_util::{SinkExt, StreamExt};
use roomcast_proto::invite::{self, InviteError};
use roomcast_proto::usersig::{self, UserSigError};
use roomcast_proto::{
    ClientMessage, EnterRoom, ErrorCode, MAX_MESSAGE_BYTES, Request, ServerMessage,
    parse_client_message,
};
use tokio::sync::{mpsc, oneshot};

use crate::AppState;
use crate::room::{Auth, Entrant, MemberId, SpeakAction};
use crate::sfu::{Command, MeetingAction, Reply};

pub async fn upgrade(ws: WebSocketUpgrade, State(state): State<AppState>) -> impl IntoResponse {
    // Frames a bit over our limit still arrive, so the client gets a MessageTooLarge error
    // instead of a dropped connection; far larger ones close only this socket.
    ws.max_message_size(MAX_MESSAGE_BYTES * 4)
        .on_upgrade(move |socket| session(socket, state))
}

type Failure = (ErrorCode, String);

async fn session(socket: WebSocket, state: AppState) {
    let member = MemberId(state.next_member.fetch_add(1, Ordering::Relaxed));
    let (mut sink, mut stream) = socket.split();
    let (events_tx, mut events_rx) = mpsc::unbounded_channel::<ServerMessage>();
    let mut in_room = false;
    let mut stopping = state.stopping.clone();

    loop {
        let outgoing = tokio::select! {
            () = stopped(&mut stopping) => {
                let close = axum::extract::ws::CloseFrame {
                    code: axum::extract::ws::close_code::RESTART,
                    reason: "the server is stopping".into(),
                };
                let _ = sink.send(Message::Close(Some(close))).await;
                break;
            }
            frame = stream.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Binary(_))) => {
                        send(&mut sink, &ServerMessage::error(None, ErrorCode::MalformedMessage,
                            "binary frames are not part of the protocol; send JSON text")).await;
                        continue;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                };
                match parse_client_message(text.as_str()) {
                    Ok(msg) => handle(&state, member, &events_tx, &mut in_room, msg).await,
                    Err(e) => ServerMessage::error(e.id, e.code, e.message),
                }
            }
            event = events_rx.recv() => match event {
                Some(ServerMessage::Removed { code, message }) => {
                    in_room = false;
                    ServerMessage::Removed { code, message }
                }
                Some(event) => event,
                None => break,
            },
        };
        if !send(&mut sink, &outgoing).await {
            break;
        }
    }
    if in_room {
        let _ = state.worker.send(Command::Disconnected { member });
    }
}

async fn stopped(rx: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

async fn send(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    msg: &ServerMessage,
) -> bool {
    let text = serde_json::to_string(msg).expect("server messages always serialise");
    sink.send(Message::Text(text.into())).await.is_ok()
}

async fn handle(
    state: &AppState,
    member: MemberId,
    events: &mpsc::UnboundedSender<ServerMessage>,
    in_room: &mut bool,
    msg: ClientMessage,
) -> ServerMessage {
    let id = msg.id;
    let result = match msg.request {
        Request::Ping => Ok(ServerMessage::Ok { id }),
        Request::EnterRoom(enter) => {
            if *in_room {
                Err((
                    ErrorCode::AlreadyInRoom,
                    "already in a room; exit_room first".into(),
                ))
            } else {
                let entered = enter_room(state, member, events, id, enter).await;
                *in_room = entered.is_ok();
                entered
            }
        }
        _ if !*in_room => Err((ErrorCode::NotInRoom, "enter a room first".to_string())),
        Request::ExitRoom => {
            *in_room = false;
            ask(state, |reply| Command::Exit { member, reply })
                .await
                .map(|_| ServerMessage::Ok { id })
        }
        Request::SwitchRole { role } => ask(state, |reply| Command::SwitchRole {
            member,
            role,
            reply,
        })
        .await
        .map(|_| ServerMessage::Ok { id }),
        Request::Negotiate { sdp, tracks } => ask(state, |reply| Command::Negotiate {
            member,
            sdp,
            tracks,
            reply,
        })
        .await
        .map(|answer| ServerMessage::Answer {
            id,
            sdp: answer.unwrap_or_default(),
        }),
        Request::SetRemoteVideoStreamType {
            user_id,
            stream_type,
        } => ask(state, |reply| Command::SetStreamType {
            member,
            user: user_id,
            layer: stream_type,
            reply,
        })
        .await
        .map(|_| ServerMessage::Ok { id }),
        Request::DownlinkLoss { video, scattered } => {
            let loss = Command::DownlinkLoss {
                member,
                video,
                scattered,
            };
            let _ = state.worker.send(loss);
            Ok(ServerMessage::Ok { id })
        }
        Request::DownlinkAudioLoss { long_runs } => {
            let loss = Command::DownlinkAudioLoss { member, long_runs };
            let _ = state.worker.send(loss);
            Ok(ServerMessage::Ok { id })
        }
        Request::Unsubscribe { mid } => {
            ask(state, |reply| Command::Unsubscribe { member, mid, reply })
                .await
                .map(|_| ServerMessage::Ok { id })
        }
        Request::SetAvailable {
            kind,
            stream,
            available,
        } => ask(state, |reply| Command::SetAvailable {
            member,
            kind,
            stream,
            available,
            reply,
        })
        .await
        .map(|_| ServerMessage::Ok { id }),
        Request::InviteToSpeak { user_id } => {
            speak(state, member, SpeakAction::Invite(user_id), id).await
        }
        Request::RequestToSpeak => speak(state, member, SpeakAction::Request, id).await,
        Request::AnswerInvite { accept } => {
            speak(state, member, SpeakAction::AnswerInvite { accept }, id).await
        }
        Request::AnswerRequest { user_id, accept } => {
            let action = SpeakAction::AnswerRequest {
                user: user_id,
                accept,
            };
            speak(state, member, action, id).await
        }
        Request::SendCustom {
            cmd_id,
            data,
            reliable,
            ordered,
        } => {
            let action = MeetingAction::Custom {
                cmd_id,
                data,
                reliable,
                ordered,
            };
            meeting(state, member, action, id).await
        }
        Request::RaiseHand { up } => meeting(state, member, MeetingAction::RaiseHand(up), id).await,
        Request::Mute {
            user_id,
            kind,
            lock,
        } => {
            let action = MeetingAction::Mute {
                user: user_id,
                kind,
                lock,
            };
            meeting(state, member, action, id).await
        }
        Request::Unlock { user_id, kind } => {
            let action = MeetingAction::Unlock {
                user: user_id,
                kind,
            };
            meeting(state, member, action, id).await
        }
        Request::RemoveUser { user_id } => {
            meeting(state, member, MeetingAction::Remove(user_id), id).await
        }
        Request::SetRoomOptions { options } => {
            meeting(state, member, MeetingAction::Options(options), id).await
        }
        Request::EndMeeting => meeting(state, member, MeetingAction::End, id).await,
        Request::Admit { user_id, accept } => {
            let action = MeetingAction::Admit {
                user: user_id,
                accept,
            };
            meeting(state, member, action, id).await
        }
    };
    result.unwrap_or_else(|(code, message)| ServerMessage::error(Some(id), code, message))
}

async fn enter_room(
    state: &AppState,
    member: MemberId,
    events: &mpsc::UnboundedSender<ServerMessage>,
    id: u64,
    enter: EnterRoom,
) -> Result<ServerMessage, Failure> {
    let ids = enter.validate()?;
    let app = state
        .store
        .app(ids.app)
        .await
        .map_err(|e| (ErrorCode::Internal, e.to_string()))?
        .ok_or_else(|| {
            (
                ErrorCode::AppUnknown,
                format!(
                    "SDKAppID {} is not an app on this server; check the app id",
                    ids.app.get()
                ),
            )
        })?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (auth, role, invite_issued) = match &enter.invite {
        Some(token) => {
            let grant = check_invite(token, &ids, &app.secret_key, now)?;
            (
                Auth::Invite { host: grant.host },
                grant.role,
                Some(grant.iat),
            )
        }
        None => {
            check_user_sig(&enter, &ids, &app.secret_key, now)?;
            (Auth::UserSig, enter.role, None)
        }
    };
    let room_id = ids.room.clone();
    let user_id = ids.user.clone();
    let entrant = Entrant {
        user: ids.user,
        name: ids.name,
        role,
        hidden: enter.hidden,
        auth,
        passcode: enter.passcode,
    };
    let reply = ask(state, |reply| Command::Enter {
        member,
        app: ids.app,
        room: ids.room,
        entrant,
        scene: enter.scene,
        invite_issued,
        events: events.clone(),
        reply,
    })
    .await?;
    match reply {
        Reply::Entered { role, users, room } => Ok(ServerMessage::Entered {
            id,
            room_id,
            user_id,
            role,
            users,
            room,
        }),
        Reply::Waiting => Ok(ServerMessage::Waiting { id }),
        _ => Err((ErrorCode::Internal, "unexpected reply to enter".into())),
    }
}

/// An invite must be signed with this app's key, unexpired, and for the room asked for.
fn check_invite(
    token: &str,
    ids: &roomcast_proto::EnterIds,
    key: &str,
    now: i64,
) -> Result<invite::Grant, Failure> {
    let grant = invite::verify(token, ids.app.get(), key, now).map_err(|e| {
        let code = match e {
            InviteError::Expired { .. } => ErrorCode::InviteExpired,
            InviteError::WrongRoom { .. } => ErrorCode::InviteWrongRoom,
            InviteError::Malformed(_) | InviteError::BadSignature | InviteError::WrongApp(_) => {
                ErrorCode::InviteInvalid
            }
        };
        (code, e.to_string())
    })?;
    if grant.room != ids.room {
        let e = InviteError::WrongRoom {
            granted: grant.room,
            asked: ids.room.clone(),
        };
        return Err((ErrorCode::InviteWrongRoom, e.to_string()));
    }
    Ok(grant)
}

fn check_user_sig(
    enter: &EnterRoom,
    ids: &roomcast_proto::EnterIds,
    key: &str,
    now: i64,
) -> Result<(), Failure> {
    usersig::verify(
        &enter.user_sig,
        u64::from(ids.app.get()),
        key,
        ids.user.as_str(),
        now,
    )
    .map_err(|e| {
        let code = match e {
            UserSigError::Expired { .. } => ErrorCode::UserSigExpired,
            UserSigError::WrongApp(_) | UserSigError::WrongUser(_) => ErrorCode::UserSigMismatch,
            UserSigError::Malformed(_) | UserSigError::BadSignature => ErrorCode::UserSigInvalid,
        };
        (code, e.to_string())
    })?;
    Ok(())
}

async fn meeting(
    state: &AppState,
    member: MemberId,
    action: MeetingAction,
    id: u64,
) -> Result<ServerMessage, Failure> {
    ask(state, |reply| Command::Meeting {
        member,
        action,
        reply,
    })
    .await
    .map(|_| ServerMessage::Ok { id })
}

async fn speak(
    state: &AppState,
    member: MemberId,
    action: SpeakAction,
    id: u64,
) -> Result<ServerMessage, Failure> {
    ask(state, |reply| Command::Speak {
        member,
        action,
        reply,
    })
    .await
    .map(|_| ServerMessage::Ok { id })
}

/// Sends a command to the media worker and waits for its answer.
async fn ask(
    state: &AppState,
    make: impl FnOnce(oneshot::Sender<Result<Reply, Failure>>) -> Command,
) -> Result<Reply, Failure> {
    let (tx, rx) = oneshot::channel();
    state.worker.send(make(tx)).map_err(|_| {
        (
            ErrorCode::Internal,
            "the media worker has stopped".to_string(),
        )
    })?;
    rx.await.map_err(|_| {
        (
            ErrorCode::Internal,
            "the media worker has stopped".to_string(),
        )
    })?
}

impl Reply {
    fn unwrap_or_default(self) -> String {
        match self {
            Reply::Answer(sdp) => sdp,
            _ => String::new(),
        }
    }
}
