//! The target state a task should be in, pushed by the herder.

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// What the user asked a connector to be: Kafka Connect's `TargetState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    Started,
    Paused,
    Stopped,
}

/// The sending side of a task's target state.
#[derive(Debug)]
pub struct Control {
    tx: watch::Sender<TargetState>,
}

impl Control {
    pub fn new(initial: TargetState) -> Self {
        Control {
            tx: watch::Sender::new(initial),
        }
    }
    pub fn set(&self, state: TargetState) {
        self.tx.send_replace(state);
    }
    pub fn get(&self) -> TargetState {
        *self.tx.borrow()
    }
    pub fn subscribe(&self) -> watch::Receiver<TargetState> {
        self.tx.subscribe()
    }
}

/// Resolves once the target becomes Stopped (or the control is dropped).
pub async fn stopped(rx: &mut watch::Receiver<TargetState>) {
    loop {
        if *rx.borrow_and_update() == TargetState::Stopped {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}
