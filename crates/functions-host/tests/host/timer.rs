use std::time::Duration;

use poolbroker_functions_host::HostEvent;
use serde_json::json;
use servicebus_emulator::Broker;

use crate::common::{TestApp, eventually, next_event, start};

const T: Duration = Duration::from_secs(10);

fn timer(schedule: &str, run_on_startup: bool) -> serde_json::Value {
    json!([{ "type": "timerTrigger", "direction": "in", "name": "timer",
             "schedule": schedule, "runOnStartup": run_on_startup }])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fires_every_second_with_the_timer_info_payload() {
    let app = TestApp::new(json!({}));
    app.function("Tick", timer("%TICK_SCHEDULE%", false));
    let mut config = app.config();
    config
        .app_settings
        .insert("TICK_SCHEDULE".into(), "*/1 * * * * *".into());
    let mut host = start(config, Broker::new()).await;

    for _ in 0..2 {
        let e = next_event(&mut host.events, T, |e| {
            matches!(e, HostEvent::TimerFired { .. })
        })
        .await;
        assert!(matches!(
            e,
            HostEvent::TimerFired {
                past_due: false,
                ..
            }
        ));
    }
    let requests = eventually("two timer invocations", T, || {
        let r = app.invocations();
        (r.len() >= 2).then_some(r)
    })
    .await;
    let body = &requests[0]["body"];
    assert_eq!(requests[0]["path"], "/Tick");
    assert_eq!(
        body["Data"]["timer"]["Schedule"],
        json!({"AdjustForDST": true})
    );
    assert_eq!(body["Data"]["timer"]["IsPastDue"], false);
    // useMonitor is turned off for schedules firing more than once a minute.
    assert!(body["Data"]["timer"]["ScheduleStatus"].is_null());
    let md = body["Metadata"].as_object().unwrap();
    assert_eq!(md.keys().collect::<Vec<_>>(), vec!["sys"]);
    assert_eq!(md["sys"]["MethodName"], "Tick");
    let a = requests[0]["at_ms"].as_u64().unwrap();
    let b = requests[1]["at_ms"].as_u64().unwrap();
    assert!(
        (700..=1500).contains(&(b - a)),
        "one second apart: {} ms",
        b - a
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_on_startup_fires_once_immediately_with_status() {
    let app = TestApp::new(json!({}));
    // Once a year: only runOnStartup can make it fire now.
    app.function("Yearly", timer("0 0 0 1 1 *", true));
    let mut host = start(app.config(), Broker::new()).await;
    let e = next_event(&mut host.events, T, |e| {
        matches!(e, HostEvent::TimerFired { .. })
    })
    .await;
    assert!(matches!(
        e,
        HostEvent::TimerFired {
            past_due: false,
            ..
        }
    ));
    let r = eventually("startup invocation", T, || app.invocations().pop()).await;
    let info = &r["body"]["Data"]["timer"];
    assert_eq!(info["IsPastDue"], false);
    assert_eq!(info["ScheduleStatus"]["Last"], "0001-01-01T00:00:00+00:00");
    let next = info["ScheduleStatus"]["Next"].as_str().unwrap();
    assert!(next.ends_with("-01-01T00:00:00+00:00"), "{next}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_occurrence_runs_once_as_past_due_after_restart() {
    let app = TestApp::new(json!({}));
    app.function("Nightly", timer("0 0 3 * * *", false));
    let state = app.root.join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(
        state.join("timer-status.json"),
        json!({ "Nightly": {
            "last": "2024-10-23T03:00:00.0012345Z",
            "next": "2024-10-24T03:00:00Z",
            "last_updated": "2024-10-23T03:00:00.5Z"
        }})
        .to_string(),
    )
    .unwrap();
    let mut config = app.config();
    config.state_dir = Some(state.clone());
    let mut host = start(config, Broker::new()).await;

    let e = next_event(&mut host.events, T, |e| {
        matches!(e, HostEvent::TimerFired { .. })
    })
    .await;
    assert!(matches!(e, HostEvent::TimerFired { past_due: true, .. }));
    let r = eventually("past-due invocation", T, || app.invocations().pop()).await;
    let info = &r["body"]["Data"]["timer"];
    assert_eq!(info["IsPastDue"], true);
    assert_eq!(info["ScheduleStatus"]["Next"], "2024-10-24T03:00:00+00:00");
    assert_eq!(
        info["ScheduleStatus"]["Last"],
        "2024-10-23T03:00:00.0012345+00:00"
    );
    // The recorded status moves on, so the next start is not past due again.
    let saved = eventually("status persisted", T, || {
        let text = std::fs::read_to_string(state.join("timer-status.json")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        (v["Nightly"]["next"] != "2024-10-24T03:00:00Z").then_some(v)
    })
    .await;
    assert!(
        saved["Nightly"]["next"]
            .as_str()
            .unwrap()
            .contains("T03:00:00")
    );
    host.stop().await;
    assert_eq!(app.invocations().len(), 1, "fired exactly once");
}
