//! Start-up over the real binary: `poolbroker serve`, as the Functions host runs it, refuses a
//! cleanup policy it cannot honour and says which entry is wrong, instead of starting and never
//! cleaning that workspace; and refuses bad Studio settings naming the setting, instead of
//! starting and answering every Studio request with an error page.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Exit status and stderr of `poolbroker serve`. A regression would make it start and serve
/// forever, so it is stopped after a generous grace period rather than hanging the suite; the
/// assertions are about the exit and the message, never about the time taken.
struct Exited {
    success: bool,
    stderr: String,
}

fn serve_with_cleanup_policy(policy: &str) -> Exited {
    serve_with(&[("POOLBROKER_CLEANUP_POLICY", policy)])
}

fn serve_with(settings: &[(&str, &str)]) -> Exited {
    let mut command = Command::new(env!("CARGO_BIN_EXE_poolbroker"));
    command.arg("serve");
    // A clean environment: only what `serve` reads before (and while) it checks the policy.
    command.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", "7")
        .envs(settings.iter().copied());
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the poolbroker binary runs");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for poolbroker") {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    Exited {
        success: status.is_some_and(|s| s.success()) || status.is_none(),
        stderr,
    }
}

#[test]
fn a_workspace_with_a_non_guid_subscription_stops_start_up_naming_the_entry() {
    let good = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1";
    let typo = "/subscriptions/prod-sub/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws2";
    let policy = format!(
        r#"{{"workspaces": [{{"workspace": "{good}"}}, {{"workspace": "{typo}", "idle_after": "2h"}}]}}"#
    );

    let output = serve_with_cleanup_policy(&policy);

    assert!(!output.success, "serve must not start");
    let stderr = &output.stderr;
    assert!(
        stderr.contains("POOLBROKER_CLEANUP_POLICY: workspaces[1].workspace:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("subscription id 'prod-sub' is invalid: must be a GUID"),
        "{stderr}"
    );
}

#[test]
fn a_malformed_workspace_id_in_yaml_stops_start_up_naming_the_entry() {
    let output = serve_with_cleanup_policy(
        "- workspace: /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg\n",
    );

    assert!(!output.success, "serve must not start");
    let stderr = &output.stderr;
    assert!(stderr.contains("[0].workspace: '"), "{stderr}");
    assert!(stderr.contains("is missing"), "{stderr}");
}

#[test]
fn bad_studio_settings_stop_start_up_naming_the_setting() {
    let output = serve_with(&[("POOLBROKER_STUDIO", "public")]);
    assert!(!output.success, "serve must not start");
    assert!(
        output
            .stderr
            .contains("POOLBROKER_STUDIO='public' is invalid: expected entra, open or off"),
        "{}",
        output.stderr
    );

    let output = serve_with(&[("POOLBROKER_STUDIO_FORM_KEY", "short")]);
    assert!(!output.success, "serve must not start");
    assert!(
        output
            .stderr
            .contains("POOLBROKER_STUDIO_FORM_KEY is too short"),
        "{}",
        output.stderr
    );
}
