//! The state graph of a saga: reachability, no cycles, a terminal state reachable from
//! every state.

use crate::model::SagaState;
use crate::source::FileId;
use crate::syntax::Pos;
use crate::syntax::saga::SagaDef;
use crate::validate::Validator;
use std::collections::{HashMap, HashSet, VecDeque};

impl Validator<'_> {
    /// Reports unreachable states and states from which no terminal state can be reached.
    pub(super) fn saga_graph(
        &mut self,
        file: FileId,
        d: &SagaDef,
        states: &[SagaState],
        names: &HashMap<String, Pos>,
    ) {
        if states.len() != d.states.0.len() || !names.contains_key(&d.initial.value) {
            return;
        }
        let edges = |s: &SagaState| -> Vec<String> {
            s.transitions
                .iter()
                .chain(s.on_timeout.as_ref())
                .map(|t| t.target.clone())
                .collect()
        };
        let by_name: HashMap<&str, &SagaState> =
            states.iter().map(|s| (s.name.as_str(), s)).collect();
        let mut reached = HashSet::new();
        let mut queue = VecDeque::from([d.initial.value.clone()]);
        while let Some(n) = queue.pop_front() {
            if reached.insert(n.clone())
                && let Some(s) = by_name.get(n.as_str())
            {
                queue.extend(edges(s));
            }
        }
        for (name, _) in d.states.iter() {
            if !reached.contains(&name.value) {
                self.error_at(
                    file,
                    name,
                    Pos::default(),
                    format!(
                        "state `{}` is unreachable from the initial state `{}`",
                        name.value, d.initial.value
                    ),
                );
            }
        }
        // The runtime derives command ids from the state name and attempt, so an instance
        // must never enter a state twice: the state graph is acyclic.
        let mut on_cycle: Vec<&str> = Vec::new();
        for s in states {
            let mut seen = HashSet::new();
            let mut stack: Vec<String> = edges(s);
            while let Some(n) = stack.pop() {
                if n == s.name {
                    on_cycle.push(&s.name);
                    break;
                }
                if seen.insert(n.clone())
                    && let Some(next) = by_name.get(n.as_str())
                {
                    stack.extend(edges(next));
                }
            }
        }
        for (name, _) in d.states.iter() {
            if on_cycle.contains(&name.value.as_str()) {
                self.error_at(file, name, Pos::default(), format!(
                    "state `{}` can be entered again after it was left: saga states form no cycle (retries are declared with `retry`)",
                    name.value
                ));
            }
        }
        let mut can_end: HashSet<String> = states
            .iter()
            .filter(|s| s.terminal.is_some())
            .map(|s| s.name.clone())
            .collect();
        loop {
            let before = can_end.len();
            for s in states {
                if edges(s).iter().any(|t| can_end.contains(t)) {
                    can_end.insert(s.name.clone());
                }
            }
            if can_end.len() == before {
                break;
            }
        }
        for (name, _) in d.states.iter() {
            if reached.contains(&name.value) && !can_end.contains(&name.value) {
                self.error_at(
                    file,
                    name,
                    Pos::default(),
                    format!(
                        "from state `{}` no terminal state can be reached",
                        name.value
                    ),
                );
            }
        }
    }
}
