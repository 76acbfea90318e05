//! The state graph of a saga: reachability, loops only through states with `max_visits`, a
//! terminal state reachable from every state, and no way back into a bounded state once its
//! visits are exhausted — so every path ends within the bounds.

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
                .chain(s.visits.as_ref().map(|v| v.on_exhausted.target.clone()))
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
        // A loop must pass through a state with `max_visits`: among the unbounded states the
        // graph is acyclic (the bounded ones cut every loop after `max_visits` entries).
        let bounded = |n: &str| by_name.get(n).is_some_and(|s| s.visits.is_some());
        let mut on_cycle: Vec<&str> = Vec::new();
        for s in states.iter().filter(|s| s.visits.is_none()) {
            let mut seen = HashSet::new();
            let mut stack: Vec<String> = edges(s).into_iter().filter(|n| !bounded(n)).collect();
            while let Some(n) = stack.pop() {
                if n == s.name {
                    on_cycle.push(&s.name);
                    break;
                }
                if seen.insert(n.clone())
                    && let Some(next) = by_name.get(n.as_str())
                {
                    stack.extend(edges(next).into_iter().filter(|n| !bounded(n)));
                }
            }
        }
        for (name, _) in d.states.iter() {
            if on_cycle.contains(&name.value.as_str()) {
                self.error_at(file, name, Pos::default(), format!(
                    "state `{}` can be entered again after it was left, and no state on the way has `max_visits`: bound the loop (`max_visits` and `on_exhausted` on one of its states), or use `retry` for retries",
                    name.value
                )).help = Some("every loop needs a bound, so that every path of the saga ends".to_owned());
            }
        }
        // Once a bounded state is exhausted, the saga must not be able to come back to it.
        for s in states {
            let Some(limit) = &s.visits else { continue };
            let mut seen = HashSet::new();
            let mut stack = vec![limit.on_exhausted.target.clone()];
            let mut returns = false;
            while let Some(n) = stack.pop() {
                if n == s.name {
                    returns = true;
                    break;
                }
                if seen.insert(n.clone())
                    && let Some(next) = by_name.get(n.as_str())
                {
                    stack.extend(edges(next));
                }
            }
            if returns && let Some((name, _)) = d.states.iter().find(|(n, _)| n.value == s.name) {
                self.error_at(file, name, Pos::default(), format!(
                    "from `{}`, the `on_exhausted` state of `{}`, the saga can come back to `{}`: once its visits are exhausted it must go elsewhere for good",
                    limit.on_exhausted.target, s.name, s.name
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
