//! What the benchmarks share.

use std::time::Duration;

/// Time this process's live threads spent on a core and waiting for one
/// (runnable but not running), from `/proc/self/task/*/schedstat`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadTimes {
    pub on_cpu: Duration,
    pub waiting: Duration,
}

impl std::ops::Sub for ThreadTimes {
    type Output = ThreadTimes;
    fn sub(self, earlier: ThreadTimes) -> ThreadTimes {
        ThreadTimes {
            on_cpu: self.on_cpu.saturating_sub(earlier.on_cpu),
            waiting: self.waiting.saturating_sub(earlier.waiting),
        }
    }
}

impl std::ops::AddAssign for ThreadTimes {
    fn add_assign(&mut self, more: ThreadTimes) {
        self.on_cpu += more.on_cpu;
        self.waiting += more.waiting;
    }
}

/// [`ThreadTimes`] summed over the threads whose name starts with
/// `prefix` (all of them for ""). Nanosecond resolution; threads that
/// already exited are not counted (tokio keeps its blocking threads 10 s).
pub fn thread_times(prefix: &str) -> ThreadTimes {
    let mut times = ThreadTimes::default();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return times };
    for task in tasks.flatten() {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !name.starts_with(prefix) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(path.join("schedstat")) else { continue };
        let mut fields = stat.split_whitespace().map(|f| f.parse::<u64>().unwrap_or(0));
        times.on_cpu += Duration::from_nanos(fields.next().unwrap_or(0));
        times.waiting += Duration::from_nanos(fields.next().unwrap_or(0));
    }
    times
}
