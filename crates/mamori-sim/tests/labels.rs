//! The labels tell a coherent story: every fraud chain has its scenario's steps in time
//! order, tied together by the fields a detector would join on; and every scenario has
//! honest customers who look like the fraud to a naive rule.

use std::collections::{BTreeMap, BTreeSet};

use mamori_core::EventKind;
use mamori_core::event::Ref;
use mamori_sim::Scenario;

mod common;
use common::{DAY, HOUR, Run, holder_birth_year, holder_key, market_open, reported};

const SEEDS: [u64; 3] = [11, 12, 13];

/// The runs every test here reads, made once.
fn runs() -> &'static [Run] {
    static RUNS: std::sync::OnceLock<Vec<Run>> = std::sync::OnceLock::new();
    RUNS.get_or_init(|| SEEDS.iter().map(|&s| Run::small(s)).collect())
}

/// A report names only events of its own chain that happened before it.
fn check_report(run: &Run, chain: &[usize], i: usize) {
    let ids = reported(&run.events[i]);
    assert!(!ids.is_empty());
    for id in ids {
        let j = run.index[&(run.inst(i).to_string(), id.clone())];
        assert!(chain.contains(&j), "a report names {id}, outside its chain");
        assert!(run.time(j) <= run.time(i));
    }
}

fn refs(r: &Ref) -> (String, String) {
    (r.institution.clone(), r.account.clone())
}

#[test]
fn link_drain_chains() {
    for run in runs() {
        let chains = run.chains("ld-");
        assert!(!chains.is_empty());
        let mut drained = 0;
        let mut elderly = 0;
        for (name, idx) in &chains {
            let open = &run.events[idx[0]];
            assert_eq!(run.step(idx[0]), "open-wallet", "{name} starts with the wallet");
            let EventKind::AccountOpened { kyc, .. } = &open.kind else { panic!("{name}") };
            assert!(["none", "mail", "photo_id"].contains(&kyc.as_str()), "{name}: weak or forged KYC");
            let wallet = (run.inst(idx[0]).to_string(), open.account.clone().unwrap());
            let name_key = holder_key(open);
            if holder_birth_year(open).unwrap() <= 1960 {
                elderly += 1;
            }
            let (mut requested, mut verified) = (BTreeSet::new(), BTreeSet::new());
            let mut charges = 0;
            for &i in &idx[1..] {
                let e = &run.events[i];
                match (run.step(i), &e.kind) {
                    ("link", EventKind::LinkRequested { link, wallet: w, auth, .. }) => {
                        assert_eq!(refs(w), wallet, "{name}: the link names the criminal's wallet");
                        assert_eq!(holder_key(e), name_key, "{name}: in the victim's name");
                        assert!(["pin_only", "otp"].contains(&auth.as_str()));
                        requested.insert(link.clone());
                    }
                    ("verify", EventKind::LinkVerified { link }) => {
                        assert!(requested.contains(link), "{name}: verified after requested");
                        verified.insert(link.clone());
                    }
                    ("charge", EventKind::Charge { link }) => {
                        assert!(verified.contains(link), "{name}: charged after verified");
                        assert_eq!(e.account.as_ref(), Some(&wallet.1));
                        charges += 1;
                    }
                    ("fraud-report", EventKind::FraudReported { .. }) => check_report(run, idx, i),
                    (s, _) => panic!("{name}: unexpected step {s}"),
                }
            }
            let end = mamori_sim::START_UNIX + i64::from(run.sim.config.days) * DAY;
            assert!(!requested.is_empty() || end - run.time(idx[0]) < 3 * DAY + HOUR, "{name}: a link was requested");
            drained += usize::from(charges > 0);
        }
        assert!(drained * 2 > chains.len(), "most victims are drained");
        assert!(elderly * 2 > chains.len(), "victims are mostly elderly");
    }
}

#[test]
fn charges_respect_the_caps() {
    for run in runs() {
        let mut month: BTreeMap<(String, String, i64), i64> = BTreeMap::new();
        for i in run.of(Scenario::LinkDrain) {
            if let EventKind::Charge { .. } = run.events[i].kind {
                let a = run.jpy(i);
                assert!((1..=100_000).contains(&a));
                let (y, m, _) = mamori_core::time::civil_from_days((run.time(i) + 9 * HOUR).div_euclid(DAY));
                *month.entry((run.inst(i).to_string(), run.events[i].account.clone().unwrap(), y * 12 + m)).or_default() += a;
            }
        }
        assert!(month.values().all(|&v| v <= 300_000));
        assert!(month.values().any(|&v| v == 300_000), "someone reaches the monthly cap");
    }
}

#[test]
fn link_drain_look_alikes() {
    for run in runs() {
        let idx = run.of(Scenario::LinkDrain);
        let mut opened: BTreeMap<(String, String), i64> = BTreeMap::new();
        let mut verified: BTreeMap<String, i64> = BTreeMap::new();
        let mut device_holders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut services_per_account: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        let (mut pin_only, mut pin_only_old, mut quick_link, mut quick_charge, mut other_phone, mut weak_kyc) = (0, 0, 0, 0, 0, 0);
        for &i in &idx {
            let e = &run.events[i];
            if run.fraud(i) {
                continue;
            }
            match &e.kind {
                EventKind::AccountOpened { kyc, .. } => {
                    opened.insert((run.inst(i).to_string(), e.account.clone().unwrap()), run.time(i));
                    device_holders.entry(e.device.clone().unwrap()).or_default().insert(holder_key(e));
                    weak_kyc += usize::from(["none", "mail"].contains(&kyc.as_str()));
                }
                EventKind::LinkRequested { wallet, auth, bank, .. } => {
                    if auth.as_str() == "pin_only" {
                        pin_only += 1;
                        pin_only_old += usize::from(holder_birth_year(e).unwrap() <= 1960);
                    }
                    if let Some(t) = opened.get(&refs(wallet))
                        && run.time(i) - t <= HOUR
                    {
                        quick_link += 1;
                    }
                    if e.attributes.get("phone_on_file") == Some(&serde_json::Value::Bool(false)) {
                        other_phone += 1;
                    }
                    services_per_account.entry(refs(bank)).or_default().insert(wallet.institution.clone());
                }
                EventKind::LinkVerified { link } => {
                    verified.insert(link.clone(), run.time(i));
                }
                EventKind::Charge { link } => quick_charge += usize::from(verified.get(link).is_some_and(|t| run.time(i) - t <= HOUR)),
                _ => {}
            }
        }
        let shared_devices = device_holders.values().filter(|h| h.len() >= 3).count();
        let two_services = services_per_account.values().filter(|s| s.len() >= 2).count();
        let counts = [pin_only, pin_only_old, quick_link, quick_charge, other_phone, weak_kyc, shared_devices, two_services];
        assert!(
            counts.iter().all(|&n| n > 0),
            "honest look-alikes (pin_only, pin_only born <=1960, link within 1h of opening, charge within 1h of verify, other phone, weak KYC, a device for >=3 people, two services): {counts:?}"
        );
    }
}

#[test]
fn takeover_chains() {
    for run in runs() {
        let chains = run.chains("tk-");
        let mut cashed = 0;
        for (name, idx) in &chains {
            if name.starts_with("tk-wave-") {
                for &i in idx {
                    assert_eq!(run.step(i), "failed-login");
                    assert!(matches!(run.events[i].kind, EventKind::Login { success: false, .. }));
                }
                continue;
            }
            let mut logged_in = false;
            let mut opened: Option<((String, String), String)> = None;
            let mut payee: Option<(String, String)> = None;
            let (mut sold, mut withdrawn) = (0, 0);
            let broker_account: BTreeSet<String> = idx
                .iter()
                .filter(|&&i| !["open-account", "fraud-report"].contains(&run.step(i)))
                .map(|&i| run.events[i].account.clone().unwrap())
                .collect();
            assert_eq!(broker_account.len(), 1, "{name}: one broker account");
            for &i in idx {
                let e = &run.events[i];
                match (run.step(i), &e.kind) {
                    ("failed-login", EventKind::Login { success: false, .. }) => assert!(!logged_in, "{name}: failures come first"),
                    ("login", EventKind::Login { success: true, .. }) => logged_in = true,
                    ("credential-change", EventKind::CredentialChanged { .. }) => assert!(logged_in),
                    ("open-account", EventKind::AccountOpened { kyc, .. }) => {
                        assert_eq!(kyc.as_str(), "photo_id", "{name}: a forged ID");
                        assert!(logged_in, "{name}: after the first login");
                        opened = Some(((run.inst(i).to_string(), e.account.clone().unwrap()), holder_key(e)));
                    }
                    ("payee", EventKind::PayeeRegistered { payee: p, .. }) => {
                        let (acct, key) = opened.clone().unwrap_or_else(|| panic!("{name}: the bank account is opened before"));
                        assert!(logged_in);
                        assert_eq!(refs(p), acct, "{name}: the payee is the new account");
                        assert_eq!(holder_key(e), key, "{name}: in the victim's own name");
                        payee = Some(acct);
                    }
                    ("sell", EventKind::Trade { side, .. }) => {
                        assert_eq!(side.as_str(), "sell");
                        assert!(payee.is_some(), "{name}: sold after the payee was registered");
                        sold += run.jpy(i);
                    }
                    ("withdrawal", EventKind::Withdrawal { payee: p }) => {
                        assert_eq!(Some(refs(p)), payee, "{name}: to the new payee");
                        assert!(sold > 0, "{name}: after the sale");
                        withdrawn += run.jpy(i);
                    }
                    ("fraud-report", EventKind::FraudReported { .. }) => check_report(run, idx, i),
                    (s, _) => panic!("{name}: unexpected step {s}"),
                }
            }
            assert!(logged_in, "{name}: the account was entered");
            assert!(withdrawn <= sold);
            cashed += usize::from(withdrawn > 0);
        }
        assert!(cashed > 0, "some taken-over accounts are cashed out");
        for i in run.of(Scenario::Takeover) {
            if let EventKind::Trade { .. } = run.events[i].kind {
                assert!(market_open(run.time(i)), "trades happen while the market is open");
            }
        }
    }
}

#[test]
fn takeover_look_alikes() {
    for run in runs() {
        let idx = run.of(Scenario::Takeover);
        let mut opened: BTreeSet<(String, String)> = BTreeSet::new();
        let mut payees: BTreeMap<(String, String, String), i64> = BTreeMap::new();
        let mut failed: BTreeSet<(String, String)> = BTreeSet::new();
        let mut devices: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        let mut big_sells: BTreeMap<(String, String), i64> = BTreeMap::new();
        let (mut new_payee_paid, mut fresh_account_payee, mut forgot, mut new_device, mut big_to_known, mut photo_id) = (0, 0, 0, 0, 0, 0);
        for &i in &idx {
            let e = &run.events[i];
            if run.fraud(i) {
                continue;
            }
            let acct = (run.inst(i).to_string(), e.account.clone().unwrap());
            match &e.kind {
                EventKind::AccountOpened { kyc, .. } => {
                    opened.insert(acct);
                    photo_id += usize::from(kyc.as_str() == "photo_id");
                }
                EventKind::Login { success: false, .. } => {
                    failed.insert(acct);
                }
                EventKind::Login { success: true, .. } => {
                    if failed.remove(&acct) {
                        forgot += 1;
                    }
                    if let Some(d) = &e.device {
                        let seen = devices.entry(acct).or_default();
                        if !seen.is_empty() && seen.insert(d.clone()) {
                            new_device += 1;
                        }
                        seen.insert(d.clone());
                    }
                }
                EventKind::PayeeRegistered { payee, .. } => {
                    fresh_account_payee += usize::from(opened.contains(&refs(payee)));
                    payees.insert((acct.1, payee.institution.clone(), payee.account.clone()), run.time(i));
                }
                EventKind::Trade { side, .. } if side.as_str() == "sell" && run.jpy(i) >= 500_000 => {
                    big_sells.insert(acct, run.time(i));
                }
                EventKind::Withdrawal { payee } => {
                    let k = (acct.1.clone(), payee.institution.clone(), payee.account.clone());
                    match payees.get(&k) {
                        Some(_) => new_payee_paid += 1,
                        None => {
                            if run.jpy(i) >= 500_000 && big_sells.get(&acct).is_some_and(|t| run.time(i) - t <= 3 * DAY) {
                                big_to_known += 1;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let counts = [new_payee_paid, fresh_account_payee, forgot, new_device, big_to_known, photo_id];
        assert!(
            counts.iter().all(|&n| n > 0),
            "honest look-alikes (withdrawal to a new payee, a just-opened account as payee, failed logins then in, a new device, a large sale withdrawn to a known payee, photo-ID openings): {counts:?}"
        );
    }
}

#[test]
fn hot_wallet_chains() {
    for run in runs() {
        let chains = run.chains("hw-");
        assert!(!chains.is_empty());
        let idx = run.of(Scenario::HotWallet);
        for (name, chain) in &chains {
            let first = run.time(chain[0]);
            let inst = run.inst(chain[0]).to_string();
            let mut asset = String::new();
            let mut total = 0.0;
            let mut last = 0;
            let before: BTreeSet<&String> = idx
                .iter()
                .filter(|&&j| run.time(j) < first && run.inst(j) == inst)
                .filter_map(|&j| match &run.events[j].kind {
                    EventKind::CryptoWithdrawal { to_address, .. } => Some(to_address.expose()),
                    _ => None,
                })
                .collect();
            for &i in chain {
                match (run.step(i), &run.events[i].kind) {
                    ("crypto-withdrawal", EventKind::CryptoWithdrawal { asset: a, wallet, to_address }) => {
                        assert_eq!(wallet.tier.as_str(), "hot");
                        asset = a.clone();
                        total += run.events[i].amount.unwrap().to_string().parse::<f64>().unwrap();
                        last = run.time(i);
                        assert!(!before.contains(to_address.expose()), "{name}: a new address");
                    }
                    ("fraud-report", EventKind::FraudReported { .. }) => {
                        assert_eq!(i, *chain.last().unwrap());
                        check_report(run, chain, i);
                    }
                    (s, _) => panic!("{name}: unexpected step {s}"),
                }
            }
            assert!(last - first <= 2 * HOUR, "{name}: within minutes");
            // It empties the hot wallet: most of the last balance seen before it.
            let hot = idx
                .iter()
                .filter(|&&j| run.time(j) < first && run.inst(j) == inst)
                .filter_map(|&j| match &run.events[j].kind {
                    EventKind::WalletBalance { asset: a, hot, .. } if *a == asset => Some(hot.to_string().parse::<f64>().unwrap()),
                    _ => None,
                })
                .next_back()
                .unwrap();
            assert!(total >= 0.8 * hot, "{name}: {total} of {hot}");
        }
    }
}

#[test]
fn hot_wallet_look_alikes() {
    for run in runs() {
        let mut hot: BTreeMap<(String, String), f64> = BTreeMap::new();
        let mut used: BTreeSet<(String, String)> = BTreeSet::new();
        let (mut large_known, mut new_address, mut sweeps) = (0, 0, 0);
        for i in run.of(Scenario::HotWallet) {
            let e = &run.events[i];
            let inst = run.inst(i).to_string();
            match &e.kind {
                EventKind::WalletBalance { asset, hot: h, .. } => {
                    hot.insert((inst, asset.clone()), h.to_string().parse().unwrap());
                }
                EventKind::CryptoWithdrawal { asset, wallet, to_address } => {
                    let amount: f64 = e.amount.unwrap().to_string().parse().unwrap();
                    let known = !used.insert((inst.clone(), to_address.expose().clone()));
                    if !run.fraud(i) && wallet.tier.as_str() == "hot" {
                        let h = hot.get(&(inst.clone(), asset.clone())).copied().unwrap_or(f64::MAX);
                        if known && amount * 100.0 > h {
                            large_known += 1;
                            if e.account.as_deref().is_some_and(|a| a.starts_with("ops-")) {
                                sweeps += 1;
                            }
                        }
                        new_address += usize::from(!known);
                    }
                }
                _ => {}
            }
        }
        let counts = [large_known, new_address, sweeps];
        assert!(
            counts.iter().all(|&n| n > 0),
            "honest look-alikes (over 1% of the hot wallet to a known address, new addresses, sweeps to cold): {counts:?}"
        );
    }
}

#[test]
fn card_leak_chains() {
    for run in runs() {
        let idx = run.of(Scenario::CardLeak);
        let mut exposed: BTreeMap<String, i64> = BTreeMap::new();
        let mut breached = BTreeSet::new();
        for &i in &idx {
            if run.step(i) == "exposed-payment"
                && let EventKind::CardPayment { card, merchant, .. } = &run.events[i].kind
            {
                assert!(!run.fraud(i), "an exposed payment is the owner's own");
                exposed.entry(card.expose().clone()).or_insert(run.time(i));
                breached.insert(merchant.clone());
            }
        }
        assert_eq!(breached.len(), 1, "one breached merchant");
        let chains = run.chains("cl-");
        assert!(!chains.is_empty());
        let mut used = BTreeSet::new();
        let mut reported_chains = 0;
        for (name, chain) in &chains {
            let mut cards = BTreeSet::new();
            let mut paid = false;
            for &i in chain {
                match (run.step(i), &run.events[i].kind) {
                    ("card-payment", EventKind::CardPayment { card, merchant, .. }) => {
                        let t = exposed.get(card.expose()).unwrap_or_else(|| panic!("{name}: the card was exposed"));
                        assert!(*t < run.time(i), "{name}: used after it was exposed");
                        assert!(!breached.contains(merchant), "{name}: used elsewhere");
                        cards.insert(card.expose().clone());
                        paid = true;
                    }
                    ("fraud-report", EventKind::FraudReported { .. }) => {
                        assert!(paid);
                        check_report(run, chain, i);
                        reported_chains += 1;
                    }
                    (s, _) => panic!("{name}: unexpected step {s}"),
                }
            }
            assert_eq!(cards.len(), 1, "{name}: one card");
            used.extend(cards);
        }
        assert!(reported_chains > 0);
        assert!(used.len() < exposed.len(), "not every exposed card is used");
    }
}

#[test]
fn card_leak_look_alikes() {
    for run in runs() {
        let idx = run.of(Scenario::CardLeak);
        let breached: BTreeSet<String> = idx
            .iter()
            .filter(|&&i| run.step(i) == "exposed-payment")
            .filter_map(|&i| match &run.events[i].kind {
                EventKind::CardPayment { merchant, .. } => Some(merchant.clone()),
                _ => None,
            })
            .collect();
        let mut per_card: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
        let (mut honest_reports, mut breached_outside) = (0, 0);
        for &i in &idx {
            match &run.events[i].kind {
                EventKind::CardPayment { card, merchant, .. } if !run.fraud(i) => {
                    per_card.entry(card.expose().clone()).or_default().push((run.time(i), merchant.clone()));
                    breached_outside += usize::from(run.step(i) == "card-payment" && breached.contains(merchant));
                }
                EventKind::FraudReported { .. } if !run.fraud(i) => honest_reports += 1,
                _ => {}
            }
        }
        // Shopping trips: three shops or more within half an hour.
        let bursts = per_card
            .values()
            .filter(|ps| {
                ps.iter().enumerate().any(|(k, (t, _))| {
                    let shops: BTreeSet<&String> = ps[k..].iter().take_while(|(u, _)| u - t <= 1800).map(|(_, m)| m).collect();
                    shops.len() >= 3
                })
            })
            .count();
        // Holders paying from a device they had not used before, and devices shared by a
        // household's cards.
        let mut card_devices: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut device_cards: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut new_devices = 0;
        for &i in &idx {
            let e = &run.events[i];
            if let (EventKind::CardPayment { card, .. }, Some(device), false) = (&e.kind, &e.device, run.fraud(i)) {
                let seen = card_devices.entry(card.expose().clone()).or_default();
                new_devices += usize::from(!seen.is_empty() && !seen.contains(device));
                seen.insert(device.clone());
                device_cards.entry(device.clone()).or_default().insert(card.expose().clone());
            }
        }
        let shared = device_cards.values().filter(|c| c.len() >= 2).count();
        let counts = [honest_reports, breached_outside, bursts, new_devices, shared];
        assert!(
            counts.iter().all(|&n| n > 0),
            "honest look-alikes (reports of genuine payments, the breached merchant outside the window, shopping trips, \
             another device of the holder's, a household's shared device): {counts:?}"
        );
    }
}
