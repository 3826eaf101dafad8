//! T-94 for sessions: when a CSP answers a session PATCH with "unknown object", the outbox replaces it
//! by a PUT of the whole session as stored now (same object, group and receiving party).

use roaming_peer::outbox::{Push, PushOp};
use roaming_peer::store::{StoreError, StoreHandle};

use super::push::SessionAddress;
use super::store::{SESSIONS, skey};

/// The full session to PUT when the CSP does not know one we PATCHed (`None`: no such session).
pub fn fallback_put(store: &StoreHandle, push: &Push) -> Result<Option<Push>, StoreError> {
    let Some(id) = push.path.get(2) else {
        return Ok(None);
    };
    let Some(s) = SESSIONS.get(store, &skey(id))? else {
        return Ok(None);
    };
    let op = PushOp::put(&s).map_err(|e| StoreError::Corrupt {
        space: SESSIONS.objects(),
        message: e.to_string(),
    })?;
    let mut put = Push::new(&SessionAddress::of(&s), op);
    put.to.clone_from(&push.to);
    Ok(Some(put))
}
