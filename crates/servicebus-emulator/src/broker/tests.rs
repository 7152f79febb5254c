use std::time::Duration;

use bytes::Bytes;
use tokio::time::{advance, sleep};

use super::*;

const Q: &str = "work";

fn broker_with(config: QueueConfig) -> Broker {
    let broker = Broker::new();
    broker.create_queue(Q, config);
    broker
}

fn msg(body: &str) -> OutgoingMessage {
    OutgoingMessage {
        body: Bytes::from(body.to_owned()),
        ..Default::default()
    }
}

fn session_msg(session: &str, body: &str) -> OutgoingMessage {
    OutgoingMessage {
        session_id: Some(session.to_owned()),
        ..msg(body)
    }
}

async fn recv(broker: &Broker) -> ReceivedMessage {
    broker
        .receive(Q, Duration::ZERO)
        .await
        .unwrap()
        .expect("a message is available")
}

#[tokio::test(start_paused = true)]
async fn send_assigns_sequence_numbers_and_uuid_message_ids() {
    let broker = broker_with(QueueConfig::default());
    assert_eq!(broker.send(Q, msg("a")).unwrap(), 1);
    assert_eq!(broker.send(Q, msg("b")).unwrap(), 2);
    let first = recv(&broker).await;
    assert_eq!(first.sequence_number, 1);
    assert_eq!(first.message.body, Bytes::from("a"));
    assert_eq!(first.message_id.len(), 32);
    assert!(first.message_id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        first.message.message_id.as_deref(),
        Some(first.message_id.as_str())
    );
    let second = recv(&broker).await;
    assert_eq!(second.sequence_number, 2);
    assert_ne!(first.message_id, second.message_id);
}

#[tokio::test(start_paused = true)]
async fn unknown_queue_is_an_error() {
    let broker = Broker::new();
    assert_eq!(
        broker.send("nope", msg("a")),
        Err(BrokerError::QueueNotFound("nope".into()))
    );
    assert!(matches!(
        broker.receive("nope", Duration::ZERO).await,
        Err(BrokerError::QueueNotFound(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn create_queue_is_idempotent_and_names_are_case_insensitive() {
    let broker = broker_with(QueueConfig::default());
    broker.send(Q, msg("kept")).unwrap();
    broker.create_queue(
        "WORK",
        QueueConfig {
            max_delivery_count: 3,
            ..Default::default()
        },
    );
    assert_eq!(broker.queue_names(), vec![Q.to_owned()]);
    assert_eq!(broker.queue_config(Q).unwrap().max_delivery_count, 10);
    assert_eq!(broker.peek_all("Work").unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn peek_lock_hides_message_until_settled() {
    let broker = broker_with(QueueConfig::default());
    broker.send(Q, msg("a")).unwrap();
    let m = recv(&broker).await;
    assert_eq!(m.delivery_count, 1);
    assert_eq!(m.locked_until, broker.now() + Duration::from_secs(60));
    assert!(broker.receive(Q, Duration::ZERO).await.unwrap().is_none());
    broker.complete(Q, m.lock_token).unwrap();
    assert!(broker.peek_all(Q).unwrap().is_empty());
    assert_eq!(broker.complete(Q, m.lock_token), Err(BrokerError::LockLost));
}

#[tokio::test(start_paused = true)]
async fn abandon_redelivers_immediately_with_incremented_count() {
    let broker = broker_with(QueueConfig::default());
    broker.send(Q, msg("a")).unwrap();
    let first = recv(&broker).await;
    broker.abandon(Q, first.lock_token).unwrap();
    let second = recv(&broker).await;
    assert_eq!(second.sequence_number, first.sequence_number);
    assert_eq!(second.delivery_count, 2);
    assert_ne!(second.lock_token, first.lock_token);
    assert_eq!(
        broker.abandon(Q, first.lock_token),
        Err(BrokerError::LockLost)
    );
}

#[tokio::test(start_paused = true)]
async fn lock_expiry_makes_message_available_and_loses_the_lock() {
    let broker = broker_with(QueueConfig {
        lock_duration: Duration::from_secs(30),
        ..Default::default()
    });
    broker.send(Q, msg("a")).unwrap();
    let first = recv(&broker).await;
    advance(Duration::from_secs(29)).await;
    assert!(broker.receive(Q, Duration::ZERO).await.unwrap().is_none());
    advance(Duration::from_secs(1)).await;
    assert_eq!(
        broker.complete(Q, first.lock_token),
        Err(BrokerError::LockLost)
    );
    let second = recv(&broker).await;
    assert_eq!(second.delivery_count, 2);
}

#[tokio::test(start_paused = true)]
async fn waiting_receiver_wakes_on_lock_expiry() {
    let broker = broker_with(QueueConfig {
        lock_duration: Duration::from_secs(30),
        ..Default::default()
    });
    broker.send(Q, msg("a")).unwrap();
    let _first = recv(&broker).await;
    let start = tokio::time::Instant::now();
    let again = broker
        .receive(Q, Duration::from_secs(60))
        .await
        .unwrap()
        .expect("redelivered after lock expiry");
    assert_eq!(start.elapsed(), Duration::from_secs(30));
    assert_eq!(again.delivery_count, 2);
}

#[tokio::test(start_paused = true)]
async fn renew_lock_extends_by_lock_duration() {
    let broker = broker_with(QueueConfig {
        lock_duration: Duration::from_secs(30),
        ..Default::default()
    });
    broker.send(Q, msg("a")).unwrap();
    let m = recv(&broker).await;
    advance(Duration::from_secs(20)).await;
    let until = broker.renew_lock(Q, m.lock_token).unwrap();
    assert_eq!(until, broker.now() + Duration::from_secs(30));
    advance(Duration::from_secs(20)).await;
    broker.complete(Q, m.lock_token).unwrap();
    assert_eq!(
        broker.renew_lock(Q, m.lock_token),
        Err(BrokerError::LockLost)
    );
}

#[tokio::test(start_paused = true)]
async fn receive_times_out_with_none() {
    let broker = broker_with(QueueConfig::default());
    let start = tokio::time::Instant::now();
    assert!(
        broker
            .receive(Q, Duration::from_secs(5))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(start.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn waiting_receiver_wakes_on_send() {
    let broker = broker_with(QueueConfig::default());
    let sender = broker.clone();
    tokio::spawn(async move {
        sleep(Duration::from_millis(250)).await;
        sender.send(Q, msg("late")).unwrap();
    });
    let start = tokio::time::Instant::now();
    let m = broker
        .receive(Q, Duration::from_secs(60))
        .await
        .unwrap()
        .expect("woken by the send");
    assert_eq!(start.elapsed(), Duration::from_millis(250));
    assert_eq!(m.message.body, Bytes::from("late"));
}

#[tokio::test(start_paused = true)]
async fn max_delivery_count_dead_letters_after_exactly_max_deliveries() {
    let broker = broker_with(QueueConfig {
        max_delivery_count: 3,
        ..Default::default()
    });
    broker.send(Q, msg("poison")).unwrap();
    for attempt in 1..=3 {
        let m = recv(&broker).await;
        assert_eq!(m.delivery_count, attempt);
        broker.abandon(Q, m.lock_token).unwrap();
    }
    assert!(broker.receive(Q, Duration::ZERO).await.unwrap().is_none());
    let dead = broker.dead_letters(Q).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].delivery_count, 3);
    assert_eq!(
        dead[0].dead_letter_reason.as_deref(),
        Some("MaxDeliveryCountExceeded")
    );
    assert_eq!(
        dead[0].dead_letter_error_description.as_deref(),
        Some("Message could not be consumed after 3 delivery attempts.")
    );
    assert_eq!(dead[0].dead_letter_source, None);
    assert!(broker.peek_all(Q).unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn lock_expiry_counts_towards_max_delivery_count() {
    let broker = broker_with(QueueConfig {
        max_delivery_count: 2,
        lock_duration: Duration::from_secs(10),
        ..Default::default()
    });
    broker.send(Q, msg("slow")).unwrap();
    recv(&broker).await;
    advance(Duration::from_secs(10)).await;
    recv(&broker).await;
    advance(Duration::from_secs(10)).await;
    assert!(broker.receive(Q, Duration::ZERO).await.unwrap().is_none());
    assert_eq!(
        broker.dead_letters(Q).unwrap()[0]
            .dead_letter_reason
            .as_deref(),
        Some("MaxDeliveryCountExceeded")
    );
}

#[tokio::test(start_paused = true)]
async fn explicit_dead_letter_records_reason_and_can_be_read_back() {
    let broker = broker_with(QueueConfig::default());
    broker.send(Q, msg("bad")).unwrap();
    let m = recv(&broker).await;
    broker
        .dead_letter(Q, m.lock_token, "BadInput", "field x missing")
        .unwrap();
    let dead = broker.dead_letters(Q).unwrap();
    assert_eq!(dead[0].dead_letter_reason.as_deref(), Some("BadInput"));
    assert_eq!(
        dead[0].dead_letter_error_description.as_deref(),
        Some("field x missing")
    );

    let from_dlq = broker
        .receive_from(Q, SubQueue::DeadLetter, false, Duration::ZERO)
        .await
        .unwrap()
        .expect("dead-letter message");
    assert_eq!(from_dlq.message.body, Bytes::from("bad"));
    broker.complete(Q, from_dlq.lock_token).unwrap();
    assert!(broker.dead_letters(Q).unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn receive_and_delete_removes_at_once() {
    let broker = broker_with(QueueConfig::default());
    broker.send(Q, msg("a")).unwrap();
    let m = broker
        .receive_from(Q, SubQueue::Active, true, Duration::ZERO)
        .await
        .unwrap()
        .expect("message");
    assert_eq!(m.delivery_count, 1);
    assert!(broker.peek_all(Q).unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn message_ttl_dead_letters_on_expiry() {
    let broker = broker_with(QueueConfig::default());
    broker
        .send(
            Q,
            OutgoingMessage {
                time_to_live: Some(Duration::from_secs(5)),
                ..msg("short-lived")
            },
        )
        .unwrap();
    let listed = broker.peek_all(Q).unwrap();
    assert_eq!(
        listed[0].expires_at,
        Some(broker.now() + Duration::from_secs(5))
    );
    advance(Duration::from_secs(5)).await;
    assert!(broker.receive(Q, Duration::ZERO).await.unwrap().is_none());
    let dead = broker.dead_letters(Q).unwrap();
    assert_eq!(
        dead[0].dead_letter_reason.as_deref(),
        Some("TTLExpiredException")
    );
    assert_eq!(dead[0].delivery_count, 0);
}

#[tokio::test(start_paused = true)]
async fn default_ttl_drops_without_dead_lettering_on_expiration() {
    let broker = broker_with(QueueConfig {
        default_ttl: Some(Duration::from_secs(5)),
        dead_lettering_on_expiration: false,
        ..Default::default()
    });
    broker.send(Q, msg("a")).unwrap();
    advance(Duration::from_secs(4)).await;
    assert_eq!(broker.peek_all(Q).unwrap().len(), 1);
    advance(Duration::from_secs(1)).await;
    assert!(broker.peek_all(Q).unwrap().is_empty());
    assert!(broker.dead_letters(Q).unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn scheduled_message_is_invisible_until_due_and_wakes_a_waiter() {
    let broker = broker_with(QueueConfig::default());
    let due = broker.now() + Duration::from_secs(90);
    broker
        .send(
            Q,
            OutgoingMessage {
                scheduled_enqueue_time: Some(due),
                ..msg("later")
            },
        )
        .unwrap();
    assert!(broker.receive(Q, Duration::ZERO).await.unwrap().is_none());
    assert_eq!(broker.peek_all(Q).unwrap().len(), 1);
    let start = tokio::time::Instant::now();
    let m = broker
        .receive(Q, Duration::from_secs(120))
        .await
        .unwrap()
        .expect("delivered when due");
    assert_eq!(start.elapsed(), Duration::from_secs(90));
    assert_eq!(m.enqueued_time, due);
}

#[tokio::test(start_paused = true)]
async fn session_queue_rejects_sessionless_use() {
    let broker = broker_with(QueueConfig {
        requires_session: true,
        ..Default::default()
    });
    assert_eq!(
        broker.send(Q, msg("a")),
        Err(BrokerError::SessionRequired(Q.into()))
    );
    assert!(matches!(
        broker.receive(Q, Duration::ZERO).await,
        Err(BrokerError::SessionRequired(_))
    ));
    let plain = broker_with(QueueConfig::default());
    assert!(matches!(
        plain.accept_next_session(Q, Duration::ZERO).await,
        Err(BrokerError::SessionsNotSupported(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn session_delivers_in_order_and_one_at_a_time() {
    let broker = broker_with(QueueConfig {
        requires_session: true,
        ..Default::default()
    });
    broker.send(Q, session_msg("s1", "1")).unwrap();
    broker.send(Q, session_msg("s2", "x")).unwrap();
    broker.send(Q, session_msg("s1", "2")).unwrap();

    let s1 = broker
        .accept_next_session(Q, Duration::ZERO)
        .await
        .unwrap()
        .expect("session s1");
    assert_eq!(s1.session_id(), "s1");
    let first = s1.receive(Duration::ZERO).await.unwrap().expect("first");
    assert_eq!(first.message.body, Bytes::from("1"));
    assert!(s1.receive(Duration::ZERO).await.unwrap().is_none());

    // Another receiver gets the other session, never s1.
    let s2 = broker
        .accept_next_session(Q, Duration::ZERO)
        .await
        .unwrap()
        .expect("session s2");
    assert_eq!(s2.session_id(), "s2");
    assert!(
        broker
            .accept_next_session(Q, Duration::ZERO)
            .await
            .unwrap()
            .is_none()
    );

    s1.abandon(first.lock_token).unwrap();
    let again = s1
        .receive(Duration::ZERO)
        .await
        .unwrap()
        .expect("redelivered");
    assert_eq!(again.message.body, Bytes::from("1"));
    assert_eq!(again.delivery_count, 2);
    s1.complete(again.lock_token).unwrap();
    let second = s1.receive(Duration::ZERO).await.unwrap().expect("second");
    assert_eq!(second.message.body, Bytes::from("2"));
    // A token of another session is not this receiver's to settle.
    assert_eq!(s2.complete(second.lock_token), Err(BrokerError::LockLost));
}

#[tokio::test(start_paused = true)]
async fn session_receiver_waits_for_completion_of_locked_head() {
    let broker = broker_with(QueueConfig {
        requires_session: true,
        ..Default::default()
    });
    broker.send(Q, session_msg("s", "1")).unwrap();
    broker.send(Q, session_msg("s", "2")).unwrap();
    let s = broker
        .accept_next_session(Q, Duration::ZERO)
        .await
        .unwrap()
        .expect("session");
    let first = s.receive(Duration::ZERO).await.unwrap().expect("first");
    let settler = broker.clone();
    tokio::spawn(async move {
        sleep(Duration::from_millis(100)).await;
        settler.complete(Q, first.lock_token).unwrap();
    });
    let start = tokio::time::Instant::now();
    let second = s
        .receive(Duration::from_secs(10))
        .await
        .unwrap()
        .expect("second");
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(second.message.body, Bytes::from("2"));
}

#[tokio::test(start_paused = true)]
async fn dropping_session_receiver_releases_session_and_its_locks() {
    let broker = broker_with(QueueConfig {
        requires_session: true,
        max_delivery_count: 2,
        ..Default::default()
    });
    broker.send(Q, session_msg("s", "1")).unwrap();
    for attempt in 1..=2 {
        let s = broker
            .accept_next_session(Q, Duration::ZERO)
            .await
            .unwrap()
            .expect("session is free again");
        let m = s.receive(Duration::ZERO).await.unwrap().expect("message");
        assert_eq!(m.delivery_count, attempt);
        drop(s);
    }
    assert!(
        broker
            .accept_next_session(Q, Duration::ZERO)
            .await
            .unwrap()
            .is_none()
    );
    let dead = broker.dead_letters(Q).unwrap();
    assert_eq!(
        dead[0].dead_letter_reason.as_deref(),
        Some("MaxDeliveryCountExceeded")
    );
}

#[tokio::test(start_paused = true)]
async fn accept_next_session_waits_for_a_session_message() {
    let broker = broker_with(QueueConfig {
        requires_session: true,
        ..Default::default()
    });
    let sender = broker.clone();
    tokio::spawn(async move {
        sleep(Duration::from_millis(50)).await;
        sender.send(Q, session_msg("late", "x")).unwrap();
    });
    let s = broker
        .accept_next_session(Q, Duration::from_secs(5))
        .await
        .unwrap()
        .expect("woken by send");
    assert_eq!(s.session_id(), "late");
}

#[tokio::test(start_paused = true)]
async fn wall_clock_follows_paused_time() {
    let broker = broker_with(QueueConfig::default());
    let before = broker.now();
    advance(Duration::from_secs(3600)).await;
    assert_eq!(broker.now() - before, time::Duration::hours(1));
    broker.send(Q, msg("a")).unwrap();
    assert_eq!(recv(&broker).await.enqueued_time, broker.now());
}
