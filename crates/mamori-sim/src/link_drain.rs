//! Link, then drain (Japan Post Bank / Docomo, 2020).
//!
//! Criminals open e-money wallets in victims' names (weak or forged KYC, the victim's
//! name and birth date, their own phone and device), link the victim's bank account
//! with a phished PIN (sometimes a phished one-time code), and charge the wallet up to
//! the service's caps. Around them: people opening wallets and linking them within the
//! hour, charging at once, using another phone number than the bank knows, linking a
//! second service, older customers linking with a PIN only, families setting up a
//! parent's wallet on their own phone, and shop tablets that open wallets for many
//! different customers.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use crate::dice::Dice;
use crate::people::{Person, birth_year, holder, ip, new_device, new_email, new_phone, person};
use crate::world::{Body, CONSUMER_HOURS, DAY, HOUR, Lab, MINUTE, World, jst_month, reference};
use crate::{Kind, Scenario};

const SC: Scenario = Scenario::LinkDrain;
const AUTH: [&str; 4] = ["pin_only", "otp", "passkey", "ekyc"];
const KYC: [&str; 5] = ["ic_chip", "photo_id", "mail", "in_person", "none"];
/// The services' caps (Docomo's, 2020): per charge and per calendar month.
const CHARGE_CAP: i64 = 100_000;
const MONTH_CAP: i64 = 300_000;

struct Bank {
    inst: usize,
    id: String,
    /// Weights of pin_only, otp, passkey, ekyc for honest links.
    auth: [f64; 4],
    /// Whether it tells whether the wallet's phone is the one on its file.
    phone_check: bool,
}

struct Service {
    inst: usize,
    id: String,
    /// Weights of the KYC methods of honest openings.
    kyc: [f64; 5],
    /// Sends kana names half-width.
    half: bool,
    /// Tablets in shops (device, ip) where staff open wallets for customers.
    shops: Vec<(String, String)>,
}

struct Customer {
    p: Person,
    bank: usize,
    cust: String,
    acct: String,
    device: String,
    ip: String,
}

struct Wallet {
    svc: usize,
    cust: String,
    acct: String,
    charged: BTreeMap<i64, i64>,
}

impl Wallet {
    /// How much more may be charged this month.
    fn room(&self, t: i64) -> i64 {
        MONTH_CAP - self.charged.get(&jst_month(t)).copied().unwrap_or(0)
    }
    fn add(&mut self, t: i64, amount: i64) {
        *self.charged.entry(jst_month(t)).or_default() += amount;
    }
}

struct Ld {
    banks: Vec<Bank>,
    svcs: Vec<Service>,
}

impl Ld {
    fn open_wallet(
        &self,
        w: &mut World,
        t: i64,
        wallet: &Wallet,
        kyc: &str,
        holder: Json,
        device: &str,
        ip: &str,
        lab: Lab,
    ) -> Option<usize> {
        let body = Body::new("account_opened")
            .s("customer", wallet.cust.as_str())
            .s("account", wallet.acct.as_str())
            .s("device", device)
            .s("ip", ip)
            .s("kyc", kyc)
            .v("holder", holder);
        w.emit(self.svcs[wallet.svc].inst, t, body, lab)
    }

    fn request(
        &self,
        w: &mut World,
        t: i64,
        c: &Customer,
        wallet: &Wallet,
        link: &str,
        holder: Json,
        phone: &str,
        auth: &str,
        device: &str,
        ip: &str,
        lab: Lab,
    ) -> Option<usize> {
        let bank = &self.banks[c.bank];
        let mut body = Body::new("link_requested")
            .s("customer", c.cust.as_str())
            .s("account", c.acct.as_str())
            .s("device", device)
            .s("ip", ip)
            .s("link", link)
            .v("bank", reference(&bank.id, &c.acct))
            .v("wallet", reference(&self.svcs[wallet.svc].id, &wallet.acct))
            .v("holder", holder)
            .s("auth", auth);
        if bank.phone_check {
            body = body.v("attributes", json!({ "phone_on_file": phone == c.p.phone }));
        }
        w.emit(bank.inst, t, body, lab)
    }

    fn verify(&self, w: &mut World, t: i64, c: &Customer, link: &str, lab: Lab) -> Option<usize> {
        let body = Body::new("link_verified").s("customer", c.cust.as_str()).s("account", c.acct.as_str()).s("link", link);
        w.emit(self.banks[c.bank].inst, t, body, lab)
    }

    fn charge(
        &self,
        w: &mut World,
        t: i64,
        wallet: &mut Wallet,
        link: &str,
        amount: i64,
        device: Option<&str>,
        ip: Option<&str>,
        lab: Lab,
    ) -> Option<usize> {
        let body = Body::new("charge")
            .s("customer", wallet.cust.as_str())
            .s("account", wallet.acct.as_str())
            .o("device", device)
            .o("ip", ip)
            .s("link", link)
            .jpy(amount);
        let e = w.emit(self.svcs[wallet.svc].inst, t, body, lab);
        if e.is_some() {
            wallet.add(t, amount);
        }
        e
    }

    fn new_wallet(&self, w: &mut World, d: &mut Dice, svc: usize) -> Wallet {
        let id = self.svcs[svc].id.clone();
        let cust = w.token(d, &format!("{id}/customer"), "u", 10);
        let acct = w.token(d, &format!("{id}/account"), "w", 10);
        Wallet { svc, cust, acct, charged: BTreeMap::new() }
    }
}

/// An everyday top-up: mostly round amounts, sometimes exactly what a purchase needs.
fn everyday_amount(d: &mut Dice) -> i64 {
    if d.chance(0.15) {
        return d.int(500, 30_000);
    }
    const AMOUNTS: [i64; 9] = [1_000, 2_000, 3_000, 5_000, 10_000, 20_000, 30_000, 50_000, 100_000];
    AMOUNTS[d.weighted(&[8.0, 6.0, 8.0, 14.0, 20.0, 10.0, 8.0, 5.0, 1.5])]
}

pub(crate) fn run(w: &mut World, d: &mut Dice) {
    let mut bank_insts = w.of_kind(Kind::Bank);
    d.shuffle(&mut bank_insts);
    let banks: Vec<Bank> = bank_insts
        .iter()
        .enumerate()
        .map(|(k, &inst)| Bank {
            inst,
            id: w.inst_id(inst).to_string(),
            // The first allows PIN-only links widely (as Japan Post Bank did), the second
            // hardly at all.
            auth: match k {
                0 => [0.45, 0.40, 0.05, 0.10],
                1 => [0.06, 0.50, 0.29, 0.15],
                _ => [0.22, 0.48, 0.15, 0.15],
            },
            phone_check: k != 0,
        })
        .collect();
    let mut svc_insts = w.of_kind(Kind::Emoney);
    d.shuffle(&mut svc_insts);
    let svcs: Vec<Service> = svc_insts
        .iter()
        .enumerate()
        .map(|(k, &inst)| Service {
            inst,
            id: w.inst_id(inst).to_string(),
            kyc: if k == 0 { [0.30, 0.25, 0.15, 0.08, 0.22] } else { [0.45, 0.30, 0.10, 0.05, 0.10] },
            half: k == 1,
            shops: (0..w.scaled(d.real(2.0, 4.0), 1)).map(|_| (new_device(w, d), ip(d))).collect(),
        })
        .collect();
    let ld = Ld { banks, svcs };
    let bank_share: Vec<f64> = (0..ld.banks.len()).map(|k| [0.45, 0.30, 0.25][k]).collect();

    // Bank customers, some of whom use wallets.
    let n = w.scaled(3000.0, 40);
    let mobile_ips: Vec<String> = (0..w.scaled(150.0, 8)).map(|_| ip(d)).collect();
    let mut customers = Vec::with_capacity(n);
    for _ in 0..n {
        let year = birth_year(d);
        let p = person(w, d, year);
        let bank = d.weighted(&bank_share);
        let bid = ld.banks[bank].id.clone();
        let cust = w.unique(d, &format!("{bid}/customer"), |d| format!("C{}", d.digits(10)));
        let acct = w.unique(d, &format!("{bid}/account"), |d| format!("{:03}-{}", d.int(1, 399), d.digits(7)));
        let device = new_device(w, d);
        let ip = if d.chance(0.45) { d.pick(&mobile_ips).clone() } else { ip(d) };
        customers.push(Customer { p, bank, cust, acct, device, ip });
    }

    let (start, end) = (w.start, w.end);
    let mut helpers: Vec<(String, String)> = Vec::new();
    for c in &customers {
        let old = c.p.birth_year <= 1960;
        let roles = if old { [0.25, 0.10, 0.02] } else { [0.52, 0.18, 0.05] };
        let rest = 1.0 - roles.iter().sum::<f64>();
        let role = d.weighted(&[roles[0], roles[1], roles[2], rest]);
        let svc = if d.chance(0.55) { 0 } else { 1 };
        match role {
            0 | 2 => {
                existing_wallet(w, d, &ld, svc, start, end);
                if role == 2
                    && let Some(t) = World::time_between(d, start, end, &CONSUMER_HOURS)
                {
                    honest_new_wallet(w, d, &ld, c, 1 - svc, t, None);
                }
            }
            1 => {
                let Some(t) = World::time_between(d, start, end, &CONSUMER_HOURS) else { continue };
                // Families set up a parent's wallet on their own phone.
                let helper = if old && d.chance(0.2) && !helpers.is_empty() { Some(d.pick(&helpers).clone()) } else { None };
                honest_new_wallet(w, d, &ld, c, svc, t, helper);
                // Some link a second service later.
                if d.chance(0.08)
                    && let Some(t2) = World::time_between(d, t + DAY, end, &CONSUMER_HOURS)
                {
                    honest_new_wallet(w, d, &ld, c, 1 - svc, t2, None);
                }
                if !old {
                    helpers.push((c.device.clone(), c.ip.clone()));
                }
            }
            _ => {}
        }
    }

    fraud(w, d, &ld, &customers);
}

/// A wallet linked before the window: its charges only.
fn existing_wallet(w: &mut World, d: &mut Dice, ld: &Ld, svc: usize, from: i64, to: i64) {
    let mut wallet = ld.new_wallet(w, d, svc);
    let link = w.token(d, "link", "lk", 12);
    let device = new_device(w, d);
    let addr = ip(d);
    let auto = if d.chance(0.35) { Some(*d.pick(&[3_000i64, 5_000, 10_000, 20_000])) } else { None };
    let rate = d.lognormal(1.0 / 8.0, 0.6);
    for t in World::arrivals(d, from, to, rate, &CONSUMER_HOURS) {
        let (amount, dev, ipa) = match auto {
            Some(a) => (a, None, None),
            None => (everyday_amount(d), Some(device.as_str()), Some(addr.as_str())),
        };
        let amount = amount.min(wallet.room(t));
        if amount >= 500 {
            ld.charge(w, t, &mut wallet, &link, amount, dev, ipa, Lab::honest(SC, "charge", amount));
        }
    }
}

/// Someone opening a wallet in their own name and linking their bank account.
/// `helper`: the device and address of a family member's phone used instead of their own.
fn honest_new_wallet(w: &mut World, d: &mut Dice, ld: &Ld, c: &Customer, svc: usize, t_open: i64, helper: Option<(String, String)>) {
    let mut wallet = ld.new_wallet(w, d, svc);
    let at_shop = helper.is_none() && d.chance(0.07);
    let (device, addr, kyc) = if at_shop {
        let (dv, a) = d.pick(&ld.svcs[svc].shops).clone();
        (dv, a, if d.chance(0.6) { "in_person" } else { "ic_chip" })
    } else {
        let (dv, a) = helper.unwrap_or_else(|| (c.device.clone(), c.ip.clone()));
        (dv, a, KYC[d.weighted(&ld.svcs[svc].kyc)])
    };
    // Some use another number with the wallet than the one their bank has.
    let phone = if d.chance(0.2) { new_phone(w, d) } else { c.p.phone.clone() };
    let email = d.chance(0.7).then(|| c.p.email.clone());
    let h = holder(&c.p, ld.svcs[svc].half, d.chance(0.8), true, Some(&phone), email.as_deref());
    ld.open_wallet(w, t_open, &wallet, kyc, h, &device, &addr, Lab::honest(SC, "open-wallet", 0));

    let delay = match d.weighted(&[0.45, 0.30, 0.25]) {
        0 if at_shop => d.int(3 * MINUTE, 30 * MINUTE),
        0 => d.int(MINUTE, HOUR),
        1 => d.int(HOUR, DAY),
        _ => d.int(DAY, 14 * DAY),
    };
    let mut t = t_open + delay;
    let bank = &ld.banks[c.bank];
    let mut weights = bank.auth;
    if c.p.birth_year <= 1960 {
        weights[0] *= 2.5;
    }
    let auth = AUTH[d.weighted(&weights)];
    let mut verified = None;
    for _ in 0..3 {
        let link = w.token(d, "link", "lk", 12);
        let h = holder(&c.p, ld.svcs[svc].half, false, true, Some(&phone), None);
        ld.request(w, t, c, &wallet, &link, h, &phone, auth, &device, &addr, Lab::honest(SC, "link", 0));
        if d.chance(0.94) {
            let tv = t + d.int(5, 180);
            ld.verify(w, tv, c, &link, Lab::honest(SC, "verify", 0));
            verified = Some((link, tv));
            break;
        }
        if !d.chance(0.7) {
            break;
        }
        t += d.int(2 * MINUTE, 2 * HOUR);
    }
    let Some((link, tv)) = verified else { return };

    // Charges: often right after linking, sometimes several at once.
    let mut t = tv
        + match d.weighted(&[0.35, 0.40, 0.25]) {
            0 => d.int(MINUTE, HOUR),
            1 => d.int(HOUR, 3 * DAY),
            _ => d.int(3 * DAY, 14 * DAY),
        };
    let revoke_at = d.chance(0.03).then(|| t + d.int(DAY, 20 * DAY));
    let spree = if d.chance(0.06) { d.int(2, 3) } else { 1 };
    let (dev, a) = (c.device.as_str(), c.ip.as_str());
    for _ in 0..spree {
        let amount = if d.chance(0.05) { CHARGE_CAP } else { everyday_amount(d) }.min(wallet.room(t));
        if amount >= 500 {
            ld.charge(w, t, &mut wallet, &link, amount, Some(dev), Some(a), Lab::honest(SC, "charge", amount));
        }
        t += d.int(2 * MINUTE, 40 * MINUTE);
    }
    let until = revoke_at.unwrap_or(w.end).min(w.end);
    let rate = d.lognormal(1.0 / 8.0, 0.6);
    for t in World::arrivals(d, t, until, rate, &CONSUMER_HOURS) {
        let amount = everyday_amount(d).min(wallet.room(t));
        if amount >= 500 {
            ld.charge(w, t, &mut wallet, &link, amount, Some(dev), Some(a), Lab::honest(SC, "charge", amount));
        }
    }
    if let Some(tr) = revoke_at {
        let body = Body::new("link_revoked").s("customer", wallet.cust.as_str()).s("account", wallet.acct.as_str()).s("link", link);
        w.emit(ld.svcs[svc].inst, tr, body, Lab::honest(SC, "revoke", 0));
    }
}

/// A gang: its devices, phones and addresses, where it opens wallets and how it drains.
struct Gang {
    devices: Vec<String>,
    /// A fresh device for every wallet (a device farm) instead of a few shared ones.
    farm: bool,
    phones: Vec<String>,
    ips: Vec<String>,
    svc: usize,
    kyc: [f64; 5],
    /// 0: the per-charge cap at once; 1: odd amounts under the cap; 2: many small
    /// charges; 3: one charge a day.
    style: usize,
}

fn fraud(w: &mut World, d: &mut Dice, ld: &Ld, customers: &[Customer]) {
    let base = w.scaled(3.0, 1) as i64;
    let gangs = d.int((base - 1).max(1), base + 1);
    let (start, end) = (w.start, w.end);
    let len = end - start;
    let mut taken = vec![false; customers.len()];
    let mut chain_no = 0;
    let mut victims_total = 0;
    for _ in 0..gangs {
        let gang = Gang {
            devices: (0..d.int(1, 3)).map(|_| new_device(w, d)).collect(),
            farm: d.chance(0.3),
            phones: (0..d.int(2, 6)).map(|_| new_phone(w, d)).collect(),
            ips: (0..d.int(2, 5)).map(|_| ip(d)).collect(),
            svc: if d.chance(0.7) { 0 } else { 1 },
            kyc: [0.0, d.real(0.0, 1.0), d.real(0.2, 1.0), 0.0, d.real(0.2, 1.0)],
            style: d.below(4),
        };
        let emails: Vec<String> = (0..3).map(|_| new_email(w, d)).collect();
        let campaign_len = d.int(2 * DAY, 10 * DAY);
        let campaign = start + d.int(len / 10, (len - campaign_len / 2).max(len / 10 + 1));
        let victims = d.int(5, 20);
        for _ in 0..victims {
            // Victims from phished lists: mostly elderly, at banks that take PIN-only links.
            let weights: Vec<f64> = customers
                .iter()
                .zip(&taken)
                .map(|(c, &t)| if t { 0.0 } else { (if c.p.birth_year <= 1960 { 6.0 } else { 1.0 }) * (ld.banks[c.bank].auth[0] + 0.1) })
                .collect();
            if weights.iter().all(|x| *x == 0.0) {
                break;
            }
            let v = d.weighted(&weights);
            taken[v] = true;
            chain_no += 1;
            victims_total += 1;
            let chain = format!("ld-{chain_no:04}");
            let t_open = campaign + d.int(0, campaign_len);
            drain(w, d, ld, &gang, &emails, &customers[v], &chain, t_open);
        }
    }
    w.notes.push(format!("link-drain: {gangs} gangs, {victims_total} victims (chains ld-0001..ld-{chain_no:04})"));
}

fn drain(w: &mut World, d: &mut Dice, ld: &Ld, gang: &Gang, emails: &[String], v: &Customer, chain: &str, t_open: i64) {
    let svc = if d.chance(0.85) { gang.svc } else { 1 - gang.svc };
    let mut wallet = ld.new_wallet(w, d, svc);
    let device = if gang.farm { new_device(w, d) } else { d.pick(&gang.devices).clone() };
    let addr = d.pick(&gang.ips).clone();
    let phone = d.pick(&gang.phones).clone();
    let email = d.chance(0.5).then(|| d.pick(emails).clone());
    let kyc = KYC[d.weighted(&gang.kyc)];
    let h = holder(&v.p, ld.svcs[svc].half, d.chance(0.7), true, Some(&phone), email.as_deref());
    ld.open_wallet(w, t_open, &wallet, kyc, h, &device, &addr, Lab::fraud(SC, chain, "open-wallet", 0));

    let mut t = t_open
        + match d.weighted(&[0.50, 0.35, 0.15]) {
            0 => d.int(2 * MINUTE, HOUR),
            1 => d.int(HOUR, 12 * HOUR),
            _ => d.int(DAY, 3 * DAY),
        };
    let pin = ld.banks[v.bank].auth[0];
    let auth = if d.chance(pin / (pin + 0.15)) { "pin_only" } else { "otp" };
    let mut bank_events = Vec::new();
    let mut verified = None;
    for _ in 0..2 {
        let link = w.token(d, "link", "lk", 12);
        let h = holder(&v.p, ld.svcs[svc].half, false, true, Some(&phone), None);
        bank_events.push(ld.request(w, t, v, &wallet, &link, h, &phone, auth, &device, &addr, Lab::fraud(SC, chain, "link", 0)));
        if d.chance(if auth == "pin_only" { 0.88 } else { 0.70 }) {
            let tv = t + d.int(5, 150);
            bank_events.push(ld.verify(w, tv, v, &link, Lab::fraud(SC, chain, "verify", 0)));
            verified = Some((link, tv));
            break;
        }
        if !d.chance(0.5) {
            break;
        }
        t += d.int(3 * MINUTE, 30 * MINUTE);
    }
    let Some((link, tv)) = verified else { return };

    // Drain, up to the caps and what the victim has.
    let mut balance = (d.lognormal(800_000.0, 1.0) as i64).clamp(30_000, 20_000_000);
    let mut t = tv
        + match d.weighted(&[0.55, 0.30, 0.15]) {
            0 => d.int(MINUTE, 45 * MINUTE),
            1 => d.int(HOUR, 8 * HOUR),
            _ => d.int(DAY, 4 * DAY),
        };
    let max_charges = if gang.style == 3 { d.int(3, 6) } else { d.int(2, 12) };
    let mut charges = Vec::new();
    for _ in 0..max_charges {
        let want = match gang.style {
            0 => CHARGE_CAP,
            1 => d.int(30, 99) * 1_000,
            2 => d.int(10, 40) * 1_000,
            _ => d.int(50, 100) * 1_000,
        };
        let amount = want.min(wallet.room(t)).min(balance);
        if amount < 1_000 {
            if gang.style == 3 && balance >= 1_000 {
                t += d.int(20 * HOUR, 28 * HOUR);
                continue;
            }
            break;
        }
        let dev = device.as_str();
        charges.push(ld.charge(w, t, &mut wallet, &link, amount, Some(dev), Some(&addr), Lab::fraud(SC, chain, "charge", amount)));
        balance -= amount;
        t += if gang.style == 3 { d.int(20 * HOUR, 28 * HOUR) } else { d.int(40, 15 * MINUTE) };
    }
    if charges.iter().all(Option::is_none) || !d.chance(0.65) {
        return;
    }
    // The victim finds out from the bankbook; the bank tells the wallet.
    let Some(first) = charges.iter().flatten().next().map(|&e| w.drafts[e].time) else { return };
    let tr = first + d.int(3 * DAY, 30 * DAY);
    let bank = ld.banks[v.bank].inst;
    if w.report(bank, tr, "customer", &bank_events, Lab::fraud(SC, chain, "fraud-report", 0)).is_some() {
        let tw = tr + d.int(HOUR, 3 * DAY);
        w.report(ld.svcs[svc].inst, tw, "institution", &charges, Lab::fraud(SC, chain, "fraud-report", 0));
    }
}
