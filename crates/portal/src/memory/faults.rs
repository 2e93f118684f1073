//! Call counts and planned faults, shared by the in-memory ports of one simulated process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use marketplace_core::DomainError;

/// A port's call, as [`Faults`] counts them and plans faults for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    GetProvider,
    PutProvider,
    AuditTrail,
    GetProduct,
    GetProviderAndProduct,
    PutProduct,
    ListProducts,
    PutProviderAndProducts,
    GetMpaVersions,
    PutMpaVersions,
    RecordIntent,
    Settle,
    WithdrawIntent,
    Send,
    Begin,
    Complete,
    Release,
    Reject,
}

/// What a planned fault does to its call.
#[derive(Debug, Clone)]
pub enum Fault {
    /// The call fails with a transient error (throttling, a 5xx) and writes nothing.
    Fail,
    /// The service answers the call with an error (SES throttled the send): certainly not
    /// carried out, and retrying may succeed ([`DomainError::Declined`]).
    Decline,
    /// The process dies in the call: it never returns and writes nothing. The test drops the
    /// delivery, as Lambda drops a dead invocation, and delivers the event again.
    Die,
    /// The call waits until the gate is notified, then runs: another delivery can run meanwhile.
    Wait(Arc<Notify>),
}

/// Call counts and planned faults, shared by the ports of one simulated process.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<FaultLog>>);

#[derive(Debug, Default)]
struct FaultLog {
    calls: HashMap<Call, u32>,
    planned: HashMap<(Call, u32), Fault>,
}

impl Faults {
    /// Plans `fault` for the `nth` call of `call` from now on (1 is the next one).
    pub fn plan(&self, call: Call, nth: u32, fault: Fault) {
        let mut log = lock(&self.0);
        let at = log.calls.get(&call).copied().unwrap_or_default() + nth;
        log.planned.insert((call, at), fault);
    }

    /// How many calls of `call` were made (including those that failed, died or wait).
    pub fn calls(&self, call: Call) -> u32 {
        lock(&self.0).calls.get(&call).copied().unwrap_or_default()
    }

    /// How many calls were made in all.
    pub fn all_calls(&self) -> u32 {
        lock(&self.0).calls.values().sum()
    }

    /// Counts a call and suffers its planned fault, if any.
    pub(super) async fn enter(&self, call: Call) -> Result<(), DomainError> {
        let fault = {
            let mut log = lock(&self.0);
            let count = log.calls.entry(call).or_default();
            *count += 1;
            let nth = *count;
            log.planned.remove(&(call, nth))
        };
        match fault {
            None => Ok(()),
            Some(Fault::Fail) => Err(DomainError::infra("in-memory port", format!("planned failure of {call:?}"))),
            Some(Fault::Decline) => Err(DomainError::declined("in-memory port", format!("{call:?} declined"))),
            Some(Fault::Die) => std::future::pending().await,
            Some(Fault::Wait(gate)) => {
                gate.notified().await;
                Ok(())
            }
        }
    }
}

/// A lock that a panicking test thread cannot poison for the next assertion.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
