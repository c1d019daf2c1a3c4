//! Calls on the virtual network (`roomcast_tests::world`): the real worker and session cores,
//! seeded loss, delay and outages, minutes of virtual time in seconds. How setup and delivery
//! fare under loss is measured by `cargo bench -p roomcast-tests --bench weak_network`.

use std::time::Duration;

use roomcast_tests::world::World;

#[test]
fn audio_flows_on_a_clean_network_at_fifty_packets_a_second() {
    let mut w = World::new(1);
    let alice = w.join("alice");
    let bob = w.join("bob");
    w.publish_audio(alice);
    w.run_for(Duration::from_secs(12));
    let b = &w.clients[bob];
    let first = b.first_media().expect("audio arrived") - w.start;
    println!("first audio after {first:?}, {} packets", b.received.len());
    assert!(first < Duration::from_millis(500), "{first:?}");
    let steady = b
        .received
        .iter()
        .filter(|r| r.at - w.start >= Duration::from_secs(2))
        .count();
    assert!((495..=505).contains(&steady), "{steady} packets in 10 s");
}
