//! A sweep's trials: each a `chainlab run` child process of this program writing its report
//! into OUT/trials, `--jobs` at a time from threads, with a progress bar counting those done.
//! Separate processes share no state.

use super::super::args::BadInput;
use chainlab::sweep::Plan;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// How many lines of a failed trial's stderr its error shows.
const STDERR_TAIL: usize = 20;

/// One trial: its name and its command line.
pub struct Trial {
    /// `pPPP-tTTT`.
    pub name: String,
    /// The program, then its arguments.
    argv: Vec<String>,
    /// Where its report goes.
    pub report: PathBuf,
}

impl Trial {
    /// The command as one shell line, each word quoted where it must be.
    pub fn shell_line(&self) -> String {
        self.argv
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Every trial of `plan` in grid then trial order: `EXE run CONFIG --seed S --set K=V ...
/// --quiet --report TRIALS_DIR/pPPP-tTTT.json`, the plan's `--set` before the varied keys.
///
/// # Errors
/// A path that is not UTF-8.
pub fn list(plan: &Plan, exe: &str, trials_dir: &Path) -> Result<Vec<Trial>, BadInput> {
    let mut out = Vec::new();
    for point in plan.points() {
        for t in 0..plan.trials {
            let name = Plan::trial_name(point.index, t);
            let report = trials_dir.join(format!("{name}.json"));
            let report_text = report
                .to_str()
                .ok_or_else(|| BadInput(format!("{} is not UTF-8", report.display())))?
                .to_string();
            let mut argv = vec![
                exe.to_string(),
                "run".into(),
                plan.config.clone(),
                "--seed".into(),
                plan.seed(t).to_string(),
            ];
            for o in plan.overrides(&point) {
                argv.push("--set".into());
                argv.push(o);
            }
            argv.extend(["--quiet".into(), "--report".into(), report_text]);
            out.push(Trial { name, argv, report });
        }
    }
    Ok(out)
}

/// What the trials did, when all wrote their reports.
pub struct Done {
    /// Trials that exited 1: an unmet `[expect]` check or a violated invariant.
    pub checks_failed: usize,
}

/// Runs `trials`, `jobs` at a time. After a trial fails no other starts; those running finish.
///
/// # Errors
/// A trial that could not start, exited other than 0 or 1, or wrote no report: the first such
/// trial in order, with its command line and the end of its stderr.
pub fn run_all(trials: &[Trial], jobs: usize, progress: bool) -> anyhow::Result<Done> {
    let bar = if progress && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(trials.len() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30.cyan/blue} {pos}/{len} trials  {elapsed} (eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let checks_failed = AtomicUsize::new(0);
    let failures: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.min(trials.len()) {
            s.spawn(|| {
                while !stop.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(t) = trials.get(i) else { break };
                    match run_one(t) {
                        Ok(exit1) => {
                            if exit1 {
                                checks_failed.fetch_add(1, Ordering::SeqCst);
                            }
                            bar.inc(1);
                        }
                        Err(msg) => {
                            stop.store(true, Ordering::SeqCst);
                            failures
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push((i, msg));
                        }
                    }
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    failures.sort();
    if let Some((_, first)) = failures.first() {
        let more = match failures.len() {
            1 => String::new(),
            2 => "\n(1 more trial failed as well)".to_string(),
            n => format!("\n({} more trials failed as well)", n - 1),
        };
        let finished = bar.position();
        anyhow::bail!(
            "{first}{more}\n{finished} of {} trials had finished; no further trial was started",
            trials.len()
        );
    }
    Ok(Done {
        checks_failed: checks_failed.into_inner(),
    })
}

/// Runs one trial; `Ok(true)` when it exited 1 (checks failed, report written).
fn run_one(t: &Trial) -> Result<bool, String> {
    let fail = |what: String, stderr: &[u8]| {
        let text = String::from_utf8_lossy(stderr);
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(STDERR_TAIL)..].join("\n  | ");
        let tail = if tail.is_empty() {
            " (empty)".to_string()
        } else {
            format!(":\n  | {tail}")
        };
        format!(
            "trial {} {what}\n  command: {}\n  stderr{tail}",
            t.name,
            t.shell_line()
        )
    };
    match std::fs::remove_file(&t.report) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(fail(
                format!("cannot replace {}: {e}", t.report.display()),
                &[],
            ))
        }
    }
    let out = Command::new(&t.argv[0])
        .args(&t.argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| fail(format!("could not start: {e}"), &[]))?;
    let code = out.status.code();
    if !matches!(code, Some(0 | 1)) {
        return Err(fail(format!("failed ({})", out.status), &out.stderr));
    }
    let written = std::fs::metadata(&t.report).is_ok_and(|m| m.len() > 0);
    if !written {
        return Err(fail(
            format!(
                "exited {} but wrote no report {}",
                out.status,
                t.report.display()
            ),
            &out.stderr,
        ));
    }
    Ok(code == Some(1))
}

/// `w` as one shell word: as it is when made of safe characters only, else in single quotes.
fn shell_quote(w: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./=:,+@%".contains(c);
    if !w.is_empty() && w.chars().all(safe) {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn words_are_quoted_only_when_they_must_be() {
        assert_eq!(shell_quote("/usr/bin/chainlab"), "/usr/bin/chainlab");
        assert_eq!(
            shell_quote("adversary.0.gamma=0.5"),
            "adversary.0.gamma=0.5"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("x={ dist = \"c\" }"), "'x={ dist = \"c\" }'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("[1,2]"), "'[1,2]'");
    }
}
