//! The live view: a table of every container and pod that fills the terminal and refreshes every
//! second, a pane tailing the selected row's log, and keys to sort, filter, start, stop and
//! restart (asking first before stopping or restarting anything).
//!
//! Readings and actions run on threads of their own, so a slow daemon or a stop that waits out
//! its grace period never freezes the keys.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row as TableRow, Table, TableState};
use ratatui::{DefaultTerminal, Frame};

use super::rows::{self, Collector, HEADERS, Row, RowKind, SortKey};
use crate::container::lifecycle::Containers;

const REFRESH: Duration = Duration::from_secs(1);
/// How much of a log's end the pane reads.
const LOG_TAIL_BYTES: u64 = 64 * 1024;
const STOP_GRACE: Duration = Duration::from_secs(10);

const HELP: &str = "↑↓/jk select  Enter log  / filter  sort: n name c cpu m memory u uptime t status  \
                    s start  x stop  r restart  q quit";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Start,
    Stop,
    Restart,
}

impl Verb {
    fn word(self) -> &'static str {
        match self {
            Verb::Start => "start",
            Verb::Stop => "stop",
            Verb::Restart => "restart",
        }
    }

    fn doing(self) -> &'static str {
        match self {
            Verb::Start => "starting",
            Verb::Stop => "stopping",
            Verb::Restart => "restarting",
        }
    }
}

/// What the daemon side of the view knows.
struct Snapshot {
    rows: Vec<Row>,
    daemon: Option<String>,
}

struct App {
    rows: Vec<Row>,
    daemon: Option<String>,
    sort: SortKey,
    filter: String,
    editing_filter: bool,
    /// The selected row, by kind and name, so it stays selected as rows come and go.
    selected: Option<(RowKind, String)>,
    log_open: bool,
    confirm: Option<(Verb, Row)>,
    message: String,
    quit: bool,
}

/// Runs the view until `q`; the terminal is restored whatever happens.
pub fn run(containers: Containers) -> anyhow::Result<i32> {
    let (rows_tx, rows_rx) = mpsc::channel();
    let collector_containers = containers.clone();
    std::thread::spawn(move || collect(collector_containers, rows_tx));
    let mut terminal = ratatui::init();
    let result = event_loop(&mut terminal, &containers, rows_rx);
    ratatui::restore();
    result.map(|()| 0)
}

/// Takes a reading every second and sends the rows, until the view is gone.
fn collect(containers: Containers, tx: Sender<Snapshot>) {
    let mut collector = Collector::new(containers);
    let mut client = None;
    let mut last_try: Option<Instant> = None;
    loop {
        let started = Instant::now();
        // A daemon that starts or stops meanwhile is noticed within a few seconds.
        if client.is_none() && last_try.is_none_or(|t| t.elapsed() >= Duration::from_secs(3)) {
            client = crate::cli::kube::connect().ok();
            last_try = Some(Instant::now());
        }
        let rows = collector.collect(client.as_ref(), None);
        let snapshot = Snapshot {
            rows,
            daemon: client.as_ref().map(|c| c.address().to_owned()),
        };
        if tx.send(snapshot).is_err() {
            return;
        }
        // A daemon that went away: ask again next time.
        if let Some(c) = &client
            && c.get("/healthz").is_err()
            && crate::cli::kube::connect().is_err()
        {
            client = None;
        }
        std::thread::sleep(REFRESH.saturating_sub(started.elapsed()));
    }
}

fn event_loop(
    terminal: &mut DefaultTerminal,
    containers: &Containers,
    rows_rx: Receiver<Snapshot>,
) -> anyhow::Result<()> {
    let (done_tx, done_rx) = mpsc::channel::<String>();
    let mut app = App::new();
    while !app.quit {
        while let Ok(snapshot) = rows_rx.try_recv() {
            if app.message == READING {
                app.message.clear();
            }
            app.rows = snapshot.rows;
            app.daemon = snapshot.daemon;
        }
        while let Ok(message) = done_rx.try_recv() {
            app.message = message;
        }
        terminal.draw(|frame| draw(frame, &mut app))?;
        if event::poll(Duration::from_millis(100))?
            && let Event::Key(key) = event::read()?
            && key.kind != KeyEventKind::Release
            && let Some((verb, row)) = app.key(key)
        {
            app.message = format!("{} {}...", verb.doing(), row.name);
            let containers = containers.clone();
            let done = done_tx.clone();
            std::thread::spawn(move || {
                let _ = done.send(act(&containers, verb, &row));
            });
        }
    }
    Ok(())
}

const READING: &str = "reading processes...";

impl App {
    fn new() -> Self {
        Self {
            rows: Vec::new(),
            daemon: None,
            sort: SortKey::Name,
            filter: String::new(),
            editing_filter: false,
            selected: None,
            log_open: false,
            confirm: None,
            message: READING.into(),
            quit: false,
        }
    }

    /// The rows shown, in order.
    fn visible(&self) -> Vec<Row> {
        let mut rows: Vec<Row> = self
            .rows
            .iter()
            .filter(|r| rows::matches(r, &self.filter))
            .cloned()
            .collect();
        rows::sort(&mut rows, self.sort);
        rows
    }

    fn selected_index(&self, visible: &[Row]) -> Option<usize> {
        if visible.is_empty() {
            return None;
        }
        let found = self
            .selected
            .as_ref()
            .and_then(|(kind, name)| visible.iter().position(|r| r.kind == *kind && &r.name == name));
        Some(found.unwrap_or(0))
    }

    fn select(&mut self, visible: &[Row], index: usize) {
        if let Some(row) = visible.get(index) {
            self.selected = Some((row.kind, row.name.clone()));
        }
    }

    /// Handles a key; returns an action to run when one was asked for (and confirmed).
    fn key(&mut self, key: KeyEvent) -> Option<(Verb, Row)> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return None;
        }
        if let Some((verb, row)) = self.confirm.take() {
            if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                return Some((verb, row));
            }
            self.message = format!("{} of {} cancelled", verb.word(), row.name);
            return None;
        }
        if self.editing_filter {
            match key.code {
                KeyCode::Enter => self.editing_filter = false,
                KeyCode::Esc => {
                    self.filter.clear();
                    self.editing_filter = false;
                }
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char(c) => self.filter.push(c),
                _ => {}
            }
            return None;
        }
        let visible = self.visible();
        let index = self.selected_index(&visible);
        let current = index.and_then(|i| visible.get(i).cloned());
        let last = visible.len().saturating_sub(1);
        match key.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Esc if self.log_open => self.log_open = false,
            KeyCode::Esc => self.filter.clear(),
            KeyCode::Up | KeyCode::Char('k') => self.select(&visible, index.unwrap_or(0).saturating_sub(1)),
            KeyCode::Down | KeyCode::Char('j') => self.select(&visible, (index.unwrap_or(0) + 1).min(last)),
            KeyCode::PageUp => self.select(&visible, index.unwrap_or(0).saturating_sub(10)),
            KeyCode::PageDown => self.select(&visible, (index.unwrap_or(0) + 10).min(last)),
            KeyCode::Home | KeyCode::Char('g') => self.select(&visible, 0),
            KeyCode::End | KeyCode::Char('G') => self.select(&visible, last),
            KeyCode::Enter => {
                self.log_open = !self.log_open;
                if let Some(i) = index {
                    self.select(&visible, i);
                }
            }
            KeyCode::Char('/') => {
                self.editing_filter = true;
                self.filter.clear();
            }
            KeyCode::Char('n') => self.sort = SortKey::Name,
            KeyCode::Char('c') => self.sort = SortKey::Cpu,
            KeyCode::Char('m') => self.sort = SortKey::Memory,
            KeyCode::Char('u') => self.sort = SortKey::Uptime,
            KeyCode::Char('t') => self.sort = SortKey::Status,
            KeyCode::Char('s') => {
                let row = current?;
                if row.kind == RowKind::Pod {
                    self.message = format!(
                        "pod {} starts when it is applied; x deletes it, r restarts its containers",
                        row.name
                    );
                    return None;
                }
                return Some((Verb::Start, row));
            }
            KeyCode::Char('x') => self.confirm = current.map(|r| (Verb::Stop, r)),
            KeyCode::Char('r') => self.confirm = current.map(|r| (Verb::Restart, r)),
            _ => {}
        }
        None
    }
}

/// What an action did, as the status line says it.
fn act(containers: &Containers, verb: Verb, row: &Row) -> String {
    let outcome = match (verb, row.kind) {
        (Verb::Stop, RowKind::Pod) => delete_pod(&row.name),
        (_, RowKind::Pod) if row.containers.is_empty() => Err("it has no container yet".to_owned()),
        _ => row.containers.iter().try_for_each(|id| {
            match verb {
                Verb::Start => containers.start(id).map(|_| ()),
                Verb::Stop => containers.stop(id, STOP_GRACE).map(|_| ()),
                Verb::Restart => containers.restart(id, STOP_GRACE).map(|_| ()),
            }
            .map_err(|e| e.to_string())
        }),
    };
    let what = match row.kind {
        RowKind::Container => "container",
        RowKind::Pod => "pod",
    };
    match (outcome, verb, row.kind) {
        (Ok(()), Verb::Stop, RowKind::Pod) => format!("deleted pod {}", row.name),
        (Ok(()), _, _) => format!("{what} {}: {} done", row.name, verb.word()),
        (Err(e), _, _) => format!("cannot {} {what} {}: {e}", verb.word(), row.name),
    }
}

fn delete_pod(namespaced: &str) -> Result<(), String> {
    let (ns, name) = namespaced.split_once('/').ok_or("not a pod name")?;
    let client = crate::cli::kube::connect().map_err(|e| e.to_string())?;
    let path = crate::kube::kinds::Kind::Pod.object_path(Some(ns), name);
    client
        .request(reqwest::Method::DELETE, &path, None)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn draw(frame: &mut Frame, app: &mut App) {
    let visible = app.visible();
    let index = app.selected_index(&visible);
    if let Some(i) = index {
        app.select(&visible, i);
    }
    let [title, body, status, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let (table_area, log_area) = if app.log_open {
        let [t, l] = Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body);
        (t, Some(l))
    } else {
        (body, None)
    };

    let containers = app.rows.iter().filter(|r| r.kind == RowKind::Container).count();
    let pods = app.rows.len() - containers;
    let source = match &app.daemon {
        Some(addr) => format!("daemon at {addr}"),
        None => "no daemon: containers only".to_owned(),
    };
    let mut heading = format!(
        "jube top: {containers} containers, {pods} pods ({source}); sorted by {}",
        app.sort.label()
    );
    if !app.filter.is_empty() || app.editing_filter {
        heading.push_str(&format!("; filter: {}", app.filter));
    }
    frame.render_widget(
        Paragraph::new(heading).style(Style::new().add_modifier(Modifier::BOLD)),
        title,
    );

    let header =
        TableRow::new(HEADERS.iter().map(|h| Span::raw(*h))).style(Style::new().add_modifier(Modifier::BOLD));
    let lines = visible.iter().map(|r| TableRow::new(rows::cells(r)));
    let widths = [
        Constraint::Length(9),
        Constraint::Min(16),
        Constraint::Length(18),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Min(14),
        Constraint::Length(8),
        Constraint::Min(14),
    ];
    let table = Table::new(lines, widths)
        .header(header)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .highlight_symbol("> ");
    let mut state = TableState::default().with_selected(index);
    frame.render_stateful_widget(table, table_area, &mut state);

    if let Some(area) = log_area {
        let row = index.and_then(|i| visible.get(i));
        let title = row.map_or_else(|| " log ".to_owned(), |r| format!(" log of {} ", r.name));
        let height = usize::from(area.height.saturating_sub(2));
        let text = match row.and_then(|r| r.log.as_deref()) {
            Some(path) => tail(path, height),
            None => vec!["(no log: the pod has no container yet)".to_owned()],
        };
        let lines: Vec<Line> = text.into_iter().map(Line::from).collect();
        frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(title)), area);
    }

    let status_line = if let Some((verb, row)) = &app.confirm {
        let what = match (verb, row.kind) {
            (Verb::Stop, RowKind::Pod) => format!("Delete pod {}", row.name),
            (_, RowKind::Pod) => format!("{} the containers of pod {}", capitalized(verb.word()), row.name),
            (_, RowKind::Container) => format!("{} container {}", capitalized(verb.word()), row.name),
        };
        Line::from(Span::styled(
            format!("{what}? (y/n)"),
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
        ))
    } else if app.editing_filter {
        Line::from(format!("filter: {}_  (Enter: keep, Esc: clear)", app.filter))
    } else {
        Line::from(app.message.clone())
    };
    frame.render_widget(Paragraph::new(status_line), status);
    frame.render_widget(
        Paragraph::new(HELP).style(Style::new().add_modifier(Modifier::DIM)),
        help,
    );
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The last `lines` lines of a log, with control characters (but tabs) made visible as spaces.
fn tail(path: &Path, lines: usize) -> Vec<String> {
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path).and_then(|mut f| {
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))?;
        f.read_to_end(&mut bytes)
    });
    if let Err(e) = read {
        return vec![format!("(cannot read {}: {e})", path.display())];
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<String> = text
        .lines()
        .map(|l| {
            l.replace('\t', "    ")
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect()
        })
        .collect();
    all[all.len().saturating_sub(lines)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: RowKind, name: &str) -> Row {
        Row {
            kind,
            name: name.into(),
            status: "running".into(),
            running: true,
            restarts: 0,
            cpu: None,
            memory: None,
            ports: String::new(),
            uptime: None,
            image: "fabric8/ticker".into(),
            containers: vec![format!("id-{name}")],
            log: None,
        }
    }

    fn press(app: &mut App, keys: &str) -> Option<(Verb, Row)> {
        let mut last = None;
        for c in keys.chars() {
            let code = match c {
                '\n' => KeyCode::Enter,
                '\x1b' => KeyCode::Esc,
                c => KeyCode::Char(c),
            };
            last = app.key(KeyEvent::new(code, KeyModifiers::NONE));
        }
        last
    }

    #[test]
    fn stop_and_restart_wait_for_a_yes_and_start_does_not() {
        let mut app = App::new();
        app.rows = vec![row(RowKind::Container, "a"), row(RowKind::Container, "b")];
        assert!(press(&mut app, "jx").is_none());
        assert!(app.confirm.is_some(), "stop asks first");
        assert!(press(&mut app, "n").is_none());
        assert!(app.confirm.is_none());
        assert_eq!(app.message, "stop of b cancelled");
        let (verb, target) = press(&mut app, "xy").expect("a confirmed stop");
        assert_eq!((verb, target.name.as_str()), (Verb::Stop, "b"));
        let (verb, _) = press(&mut app, "ry").expect("a confirmed restart");
        assert_eq!(verb, Verb::Restart);
        let (verb, target) = press(&mut app, "ks").expect("start needs no question");
        assert_eq!((verb, target.name.as_str()), (Verb::Start, "a"));
    }

    #[test]
    fn the_filter_is_typed_after_a_slash_and_keys_sort() {
        let mut app = App::new();
        app.rows = vec![row(RowKind::Pod, "default/web"), row(RowKind::Container, "db")];
        press(&mut app, "/db\n");
        assert_eq!(app.filter, "db");
        assert!(!app.editing_filter);
        let visible = app.visible();
        assert_eq!(visible.len(), 1);
        assert_eq!(visible[0].name, "db");
        press(&mut app, "/x\x1b");
        assert_eq!(app.filter, "", "Esc clears the filter");
        press(&mut app, "c");
        assert_eq!(app.sort, SortKey::Cpu);
        press(&mut app, "\n");
        assert!(app.log_open);
        assert_eq!(press(&mut app, "s"), None, "a pod is not started from here");
        press(&mut app, "q");
        assert!(app.quit);
    }
}
