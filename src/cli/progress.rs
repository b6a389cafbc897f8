//! The terminal side of [`Reporter`]: indicatif bars on a terminal, nothing when piped; warnings
//! and notes always go to stderr.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::reporter::Reporter;

/// Name, bar, bytes done and total, rate, time left.
const BAR_TEMPLATE: &str = "{msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}";
const SPINNER_TEMPLATE: &str = "{spinner} {msg:30!} {bytes} {bytes_per_sec}";

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

pub struct TerminalReporter {
    bars: Option<MultiProgress>,
    active: Mutex<HashMap<usize, ProgressBar>>,
    next: AtomicUsize,
    quiet: bool,
}

impl TerminalReporter {
    /// Bars only when stderr is a terminal; `quiet` also silences informational notes.
    pub fn new(quiet: bool) -> Self {
        let bars = (std::io::stderr().is_terminal() && !quiet)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self {
            bars,
            active: Mutex::new(HashMap::new()),
            next: AtomicUsize::new(1),
            quiet,
        }
    }

    pub fn is_terminal(&self) -> bool {
        self.bars.is_some()
    }

    fn print(&self, line: &str) {
        match &self.bars {
            Some(m) => {
                let _ = m.println(line);
            }
            None => eprintln!("{line}"),
        }
    }
}

impl Reporter for TerminalReporter {
    fn on_start(&self, what: &str, total: Option<u64>) -> usize {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Some(multi) = &self.bars {
            let bar = match total {
                Some(n) => ProgressBar::new(n).with_style(style(BAR_TEMPLATE)),
                // Without a size there is no ETA, but bytes and rate still show the pace.
                None => ProgressBar::new_spinner().with_style(style(SPINNER_TEMPLATE)),
            };
            let bar = multi.add(bar.with_message(what.to_owned()));
            if let Ok(mut active) = self.active.lock() {
                active.insert(id, bar);
            }
        }
        id
    }

    fn on_progress(&self, id: usize, done: u64) {
        if self.bars.is_some()
            && let Some(bar) = self.active.lock().ok().and_then(|a| a.get(&id).cloned())
        {
            bar.inc(done);
        }
    }

    fn on_finish(&self, id: usize) {
        if let Some(bar) = self.active.lock().ok().and_then(|mut a| a.remove(&id)) {
            bar.finish_and_clear();
        }
    }

    fn warn(&self, message: &str) {
        self.print(&format!("warning: {message}"));
    }

    fn info(&self, message: &str) {
        if !self.quiet {
            self.print(message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_parse() {
        for template in [BAR_TEMPLATE, SPINNER_TEMPLATE] {
            assert!(ProgressStyle::with_template(template).is_ok(), "{template}");
        }
    }
}
