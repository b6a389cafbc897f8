//! `jube top`: every container and pod with what it uses, live in the terminal, or as one plain
//! table when stdout is not a terminal or with `--once`.

mod rows;
mod screen;

use std::io::IsTerminal;
use std::time::Duration;

use crate::container::lifecycle::Containers;
use crate::layout::Layout;

/// The time the figures of a one-shot table cover.
const ONCE_WINDOW: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, clap::Args)]
pub struct TopArgs {
    /// Print one table and exit (what happens anyway when stdout is not a terminal).
    #[arg(long)]
    pub once: bool,
}

pub fn top(args: &TopArgs) -> anyhow::Result<i32> {
    let containers = Containers::new(Layout::from_env());
    let interactive = !args.once && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    if interactive {
        return screen::run(containers);
    }
    let daemon = super::kube::connect().ok();
    let mut collector = rows::Collector::new(containers);
    let mut rows = collector.collect(daemon.as_ref(), Some(ONCE_WINDOW));
    rows::sort(&mut rows, rows::SortKey::Name);
    super::output::print(&rows::plain(&rows))?;
    Ok(0)
}
