//! Every frame kind of the default packs, in English and Spanish, each next to the
//! look-alikes it must leave alone. The sentences are written for these tests.
#![allow(clippy::unwrap_used)]

use palisade_engine::{Action, Engine, Input, Thresholds};

fn engine() -> &'static Engine {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::with_default_rules(Thresholds {
            tag: 5.0,
            quarantine: 10.0,
            reject: 0.0,
        })
        .unwrap()
    })
}

fn scan(text: &str) -> (Action, Vec<String>, f64) {
    let raw = format!("Subject: note\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n");
    let v = engine().scan(&Input::new(raw.as_bytes()));
    let names = v.symbols.iter().map(|s| s.name.clone()).collect();
    (v.action, names, v.score)
}

/// `text` fires `symbol` and reaches at least `action`.
fn fires(text: &str, symbol: &str, action: Action) {
    let (a, names, score) = scan(text);
    assert!(
        names.iter().any(|n| n == symbol),
        "{text:?}: expected {symbol}, got {names:?}"
    );
    assert!(
        rank(a) >= rank(action),
        "{text:?}: expected {action:?} or worse, got {a:?} ({score}, {names:?})"
    );
}

/// `text` stays below the tag threshold.
fn quiet(text: &str) {
    let (a, names, score) = scan(text);
    assert_eq!(a, Action::Accept, "{text:?}: {score} {names:?}");
}

fn rank(a: Action) -> u8 {
    match a {
        Action::Accept => 0,
        Action::Tag => 1,
        Action::Quarantine | Action::Reject | Action::Tempfail => 2,
    }
}

use Action::{Quarantine, Tag};

#[test]
fn direct_threats_and_their_look_alikes() {
    fires("We will kill you.", "THREAT_KILL_YOU", Quarantine);
    fires(
        "i'm gonna shoot ur whole family",
        "THREAT_KILL_YOU",
        Quarantine,
    );
    fires(
        "I swear I will hurt your kids",
        "THREAT_KILL_YOU",
        Quarantine,
    );
    fires("We're going to take you out.", "THREAT_PHRASAL", Quarantine);
    fires(
        "I am going to stab a voter tomorrow.",
        "THREAT_KILL_PERSON",
        Quarantine,
    );
    fires(
        "I will snap that neck of yours.",
        "THREAT_BODY_PART",
        Quarantine,
    );
    fires("We will spill blood.", "THREAT_BODY_HARM", Quarantine);
    fires(
        "I will kill him when I get out.",
        "THREAT_KILL_OTHERS",
        Quarantine,
    );
    // Idioms and other objects of harm words.
    quiet("That is a killer deal, we will kill it at the sale.");
    quiet("I bombed the exam and my teacher will kill me.");
    quiet("I'll shoot you an email tomorrow.");
    quiet("We will take you out to dinner after the count.");
    quiet("We're going to beat them in November.");
    quiet("Let's kill the bill in committee.");
}

#[test]
fn negation_cancels_a_threat() {
    quiet("We would never hurt you.");
    quiet("I am not going to kill you, relax.");
    quiet("Nadie te va a hacer daño aquí.");
    // A negation inside a condition is the threat's condition.
    fires(
        "If you don't resign we will kill you.",
        "COMBO_DEMAND_AND_THREAT",
        Quarantine,
    );
}

#[test]
fn passive_and_predictive_threats() {
    fires("You will hang.", "THREAT_PASSIVE", Quarantine);
    fires("You'll be found, traitor.", "THREAT_PASSIVE_WEAK", Tag);
    fires("ur dead", "THREAT_YOU_ARE_DEAD", Quarantine);
    fires(
        "Your family will pay with their lives.",
        "THREAT_PASSIVE",
        Quarantine,
    );
    fires(
        "Every election worker will be shot.",
        "THREAT_PASSIVE_PEOPLE",
        Tag,
    );
    quiet("Why wait until you're dead to write a will?");
    quiet("You will die laughing at this show.");
    quiet("You will hang out with the other volunteers.");
    quiet("You'll be found eligible once the form is in.");
}

#[test]
fn wishes_and_deserts() {
    fires("I hope you die.", "THREAT_WISH_DEATH", Quarantine);
    fires(
        "I hope somebody kills you.",
        "THREAT_WISH_DEATH",
        Quarantine,
    );
    fires(
        "You should hang for treason.",
        "THREAT_DESERVE_DEATH",
        Quarantine,
    );
    fires("You deserve a bullet.", "THREAT_DESERVE_WEAPON", Quarantine);
    fires("Ojalá te mueras.", "ES_DESEO_MUERTE", Quarantine);
    fires("Los traidores merecen morir.", "ES_MERECE_MORIR", Tag);
    quiet("I hope you enjoy the parade.");
    quiet("You should hang the banner by the door.");
    quiet("Ningún trabajador merece morir en su puesto.");
}

#[test]
fn incitement_and_pursuit() {
    fires(
        "It's time to put a bullet in the traitors.",
        "THREAT_INCITEMENT",
        Quarantine,
    );
    fires(
        "Somebody ought to lynch the clerk.",
        "THREAT_INCITEMENT_TARGETED",
        Quarantine,
    );
    fires("We will find you.", "THREAT_PURSUIT", Tag);
    fires(
        "We're coming for you and your family.",
        "THREAT_COMING_FOR_FAMILY",
        Quarantine,
    );
    fires(
        "These judges must learn: obey the Constitution or die.",
        "THREAT_OBEY_OR_DIE",
        Tag,
    );
    quiet("Guns kill Americans every day; vote for safer laws.");
    quiet("We will find you a polling place near your home.");
    quiet("We will find you the right form.");
    quiet("Time to kill some time before the polls open.");
}

#[test]
fn places_bombs_and_shootings() {
    fires(
        "There is a bomb in the building.",
        "THREAT_BOMB_PLACED",
        Quarantine,
    );
    fires(
        "I am going to shoot up the school on Friday.",
        "THREAT_ATTACK_PLACE",
        Quarantine,
    );
    fires(
        "The bomb will detonate at noon.",
        "THREAT_BOMB_WILL_EXPLODE",
        Quarantine,
    );
    quiet("If you receive a bomb threat at the school, remain calm and call 911.");
    quiet("The bomb squad swept the building before the count.");
    quiet("Our volunteers shot a video at the school board meeting.");
}

#[test]
fn veiled_threats() {
    fires("We know where you live.", "VEILED_KNOWS_YOUR_LIFE", Tag);
    fires(
        "Your days are numbered, traitor. Watch your back.",
        "VEILED_DAYS_NUMBERED",
        Quarantine,
    );
    fires(
        "It would be a shame if something happened to your kids at Lincoln Elementary.",
        "VEILED_HAPPEN",
        Tag,
    );
    fires("We are watching you.", "VEILED_WATCHING", Tag);
    fires(
        "A noose is waiting for you.",
        "VEILED_DEATH_IMAGERY_YOU",
        Tag,
    );
    fires(
        "Do you feel safe? Do you think the police can protect you?",
        "VEILED_NO_PROTECTION",
        Tag,
    );
    quiet("Know where your polling place is before election day.");
    quiet("We are watching the results closely tonight.");
    quiet("Please keep your family safe during the storm.");
    // Armed, said by the writer: one weapon, named.
    fires(
        "I own a shotgun and I know your schedule.",
        "VEILED_I_AM_ARMED",
        Tag,
    );
    quiet("I have a gun license and I hunt every fall.");
    quiet("Many people have a gun at home for protection.");
    quiet("Can I carry my pistol into the polling place?");
    quiet("We found a gun in the drop-box area this morning.");
    quiet("We have a gun-free zone policy at every polling place.");
    // Alone it stays below the tag threshold: owning a gun is no threat.
    quiet("I own a gun and I back universal background checks.");
    // Time running out for the reader.
    fires("Sleep well while you can.", "VEILED_WHILE_YOU_CAN", Tag);
    quiet("Register to vote while you can: the deadline is Friday.");
    quiet("Early voting is open, so cast your ballot while you still can.");
    quiet("Get some rest while you can, canvassing starts Saturday.");
    // A dare: see what happens to the reader or their family.
    fires(
        "Certify the count and see what happens to your family.",
        "VEILED_SEE_WHAT_HAPPENS",
        Tag,
    );
    quiet("Wait and see what happens to the bill in the Senate.");
    quiet("Invest today and see what happens to your savings in a year.");
    quiet("Let's see what happens to him in the runoff.");
}

#[test]
fn coercion_needs_a_threat() {
    // A demand alone is pressure.
    quiet("If you certify the results, we will remember in November.");
    quiet("Vote for Rivera or else the schools lose funding.");
    // With a threat it is coercion.
    fires(
        "You will vote for Smith on Tuesday or we will come after you.",
        "COMBO_DEMAND_AND_THREAT",
        Quarantine,
    );
    fires(
        "Resign by Friday or you will be shot.",
        "COMBO_DEMAND_AND_THREAT",
        Quarantine,
    );
}

#[test]
fn extortion_structure() {
    fires(
        "I hacked your computer and recorded you through your webcam. Send $1500 in bitcoin \
         within 48 hours or I will send the video to all your contacts. Do not tell the police.",
        "EXTORTION_DEMAND",
        Quarantine,
    );
    fires(
        "Pay to 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa within 24 hours or your video goes to your contacts. I recorded you.",
        "CRYPTO_WALLET",
        Quarantine,
    );
    // Any number of hours is a deadline; a wallet fills the payment.
    fires(
        "I have been watching you for months: my trojan recorded you. Send 1450 USD to \
         bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4 within 50 hours or your relatives \
         will receive that video.",
        "EXTORTION_DEMAND",
        Quarantine,
    );
    // News retelling an extortion letter.
    quiet(
        "Police said the scammers claim they hacked the victims' webcams and demand bitcoin \
         within 48 hours. The FBI recommends that victims do not pay.",
    );
    quiet("Our invoice is due within 30 days; pay online or by check.");
    // Data theft: a claim of copied files, payment as the condition, publication.
    fires(
        "We copied your customer database last night. Unless you pay 6 BTC in five days, \
         all of it will be published and your clients will hear about it.",
        "EXTORTION_DEMAND",
        Quarantine,
    );
    // An attack on the reader's site, called off for a fee by a weekday.
    fires(
        "Your web shop goes offline on Monday with a DDoS attack if you do not pay 2 bitcoin \
         by Sunday.",
        "EXTORTION_DEMAND",
        Quarantine,
    );
    // Claim, payment and the condition alone, with no named deadline.
    fires(
        "Your phone has been under my control for weeks and I know your dirty secrets. Once \
         I receive 800 dollars in bitcoin I will delete everything.",
        "EXTORTION_DEMAND",
        Quarantine,
    );
    // A shop taking bitcoin states a condition and a deadline too.
    quiet(
        "Thanks for your order. Once the payment in bitcoin is confirmed, we ship within \
         24 hours; if the payment is late, the order is cancelled by Friday.",
    );
    // The same steps in Spanish: a claim of copied files, the condition, the audience.
    fires(
        "Hemos copiado todos tus archivos. Si no pagas 3 bitcoin, tus clientes y tus \
         familiares recibirán una copia.",
        "EXTORTION_DEMAND",
        Quarantine,
    );
    // Advice not to share something is no consequence.
    quiet(
        "Your bitcoin reward is ready: claim it within 24 hours. Keep your recovery phrase \
         safe and never share it with anyone.",
    );
    fires(
        "I recorded you. Pay 900 dollars in bitcoin within 24 hours or I will share it with \
         everyone you know, and do not share this letter with anyone.",
        "EXTORTION_DEMAND",
        Quarantine,
    );
    // An invoice has a payment, a deadline and a condition, but neither a claim over the
    // reader nor a consequence.
    quiet(
        "Please pay by wire transfer by Friday. If we do not receive payment, a late fee \
         applies and we will delete the draft order.",
    );
    quiet("A partir de ahora tus clientes pueden pagar con tu monedero o en bitcoin.");
    quiet("Pay with your credit card or by wire transfer by Friday.");
    quiet(
        "Filing fees are paid by wire transfer. The deadline is Friday, and we publish the \
         candidate list on Monday; share this with every campaign.",
    );
    // A negation that opens a condition does not deny the consequence after it.
    fires(
        "Te he grabado con tu cámara. Envía 500 euros en bitcoin. Si no, publicaré el video.",
        "EXTORTION_DEMAND",
        Quarantine,
    );
    fires(
        "I recorded you through your webcam. Pay 1000 dollars in bitcoin. If you do not, \
         your family and friends get the video.",
        "EXTORTION_DEMAND",
        Quarantine,
    );
    // A report of a ransomware attack has every step, told in the third person.
    quiet(
        "The city said a ransomware group encrypted its servers and asked for 40 bitcoin, \
         threatening that residents' files would be published. The FBI is investigating and \
         residents will be informed within the next 30 days.",
    );
}

#[test]
fn spanish_frames() {
    fires("Te vamos a matar.", "ES_AMENAZA_MUERTE", Quarantine);
    fires(
        "Voy a matarte, perra.",
        "ES_AMENAZA_MUERTE_ENCLITICA",
        Quarantine,
    );
    fires("Te mataré.", "ES_AMENAZA_FUTURO", Quarantine);
    fires(
        "Mañana voy a apuñalar a un concejal.",
        "ES_AMENAZA_PERSONA",
        Quarantine,
    );
    fires("Vas a morir.", "ES_PREDICCION_MUERTE", Quarantine);
    fires("Sabemos donde vives.", "ES_SABEMOS_DONDE", Tag);
    fires("Te estamos vigilando.", "ES_AMENAZA_VELADA", Tag);
    fires(
        "Pondremos una bomba en el instituto.",
        "ES_BOMBA_LUGAR",
        Quarantine,
    );
    fires("Si te veo, te pego un tiro.", "ES_TIRO", Quarantine);
    fires("vamos a ir por ti", "ES_PERSECUCION_ENCLITICA", Tag);
    fires("te vamos a buscar", "ES_PERSECUCION", Tag);
    // Without accents, with text-speak.
    fires(
        "te vamos a matar xq eres una rata",
        "ES_AMENAZA_MUERTE",
        Quarantine,
    );
    quiet("El equipo va a matar el tiempo antes del partido.");
    quiet("Nadie te va a tocar, estás a salvo.");
    quiet("Según la fiscalía, el acusado escribió que la iba a matar; fue condenado por amenazas.");
}

#[test]
fn disguises_are_read_through() {
    fires("W3 w1ll k1ll y0u", "THREAT_KILL_YOU", Quarantine);
    fires("we will ki11 u", "THREAT_KILL_YOU", Quarantine);
    fires("#WeWillKillYou", "THREAT_KILL_YOU", Quarantine);
    fires("we will k i l l you", "THREAT_KILL_YOU", Quarantine);
    fires("we will kiiiiill you", "THREAT_KILL_YOU", Quarantine);
    fires("we will \u{043A}ill you", "THREAT_KILL_YOU", Quarantine);
    fires(
        "w\u{200B}e will kill y\u{00AD}ou",
        "THREAT_KILL_YOU",
        Quarantine,
    );
}

#[test]
fn reported_speech_keeps_little_but_quoting_alone_keeps_a_tag() {
    quiet(
        "According to court documents, the man wrote: \"We will kill you and your family.\" \
         He pleaded guilty and faces up to five years in prison.",
    );
    quiet("The caller said he would shoot up the school, police said.");
    // A threat in quotation marks with no one it is attributed to is still a threat.
    fires("\"We will kill you.\"", "THREAT_KILL_YOU", Tag);
    fires("> We will kill you.", "THREAT_KILL_YOU", Tag);
    // Staff forwarding a threat to IT: reported.
    quiet("Can IT look at this? It came in overnight.\n\n> We will kill you.\n");
}

#[test]
fn a_modal_carries_over_coordinated_verbs() {
    fires(
        "I'll drive over to your place tonight and kill you.",
        "THREAT_KILL_YOU",
        Quarantine,
    );
    fires(
        "We are going to wait outside the office after the meeting and then shoot all of them.",
        "THREAT_KILL_OTHERS",
        Quarantine,
    );
    fires(
        "Voy a ir a tu casa esta noche y matarte.",
        "ES_AMENAZA_MUERTE_ENCLITICA",
        Quarantine,
    );
    // A noun after `and` is no verb of the modal: the frame needs the object to come.
    quiet("A detector from the probe will soon be helping detectives to solve gun crimes and murder cases.");
    quiet("We will review the proposal and shoot you an email.");
    quiet("I am going to finish the report and send it to you.");
}

#[test]
fn particles_make_harm_only_with_their_verbs() {
    fires("We're going to take you out.", "THREAT_PHRASAL", Quarantine);
    fires("I will gun them down.", "THREAT_PHRASAL_OTHERS", Tag);
    fires(
        "I'll burn your house down.",
        "THREAT_PHRASAL_PLACE",
        Quarantine,
    );
    quiet("Lunch on Thursday would be great, I'll put you down.");
    quiet("I will send them out tomorrow morning.");
    quiet("We will put you up at the hotel near the office.");
    quiet("I'll take you up on that offer.");
    quiet("I will shoot down all of them in the meeting.");
}

#[test]
fn open_class_targets_commissions_conditions_and_massacres() {
    fires(
        "We'll torch your barbershop next Sunday.",
        "THREAT_ATTACK_YOURS",
        Quarantine,
    );
    fires(
        "I am going to blow up your food truck.",
        "THREAT_ATTACK_YOURS",
        Quarantine,
    );
    fires(
        "Someone paid me to kill you.",
        "THREAT_COMMISSIONED",
        Quarantine,
    );
    fires(
        "I was sent to hurt your family.",
        "THREAT_COMMISSIONED",
        Quarantine,
    );
    fires(
        "If you go to the police, your family will pay.",
        "THREAT_IF_YOU_TELL",
        Quarantine,
    );
    fires(
        "Si vas a la policía, tu familia lo pagará.",
        "ES_SI_DENUNCIAS",
        Quarantine,
    );
    fires(
        "We are going to do what he did at Columbine.",
        "THREAT_MASSACRE_PLAN",
        Quarantine,
    );
    quiet("We will blow up your inbox with offers this week.");
    quiet("My boss sent me to pick you up at the airport.");
    quiet("If you go to the police station, the desk officer will help you file the report.");
    quiet("We are going to talk about Columbine in the safety training.");
}

#[test]
fn a_stock_phrase_alone_stays_below_tag() {
    quiet("Congratulations, nowhere to hide for the auditors now.");
    quiet("Send me the draft and I will read it when I see you.");
    quiet("The history lecture covered the guillotine and the revolution.");
}

#[test]
fn a_mark_or_a_rope_on_the_body_is_a_frame_not_a_phrase() {
    fires(
        "There is a bullseye on your head now.",
        "VEILED_MARKED",
        Action::Accept,
    );
    fires(
        "Put a rope around his neck, I say.",
        "VEILED_MARKED",
        Action::Accept,
    );
    fires(
        "We know where you live, and there is a target on your back.",
        "VEILED_MARKED",
        Tag,
    );
    let (_, names, _) = scan("Write the price on your receipt and keep the target on your list.");
    assert!(!names.iter().any(|n| n == "VEILED_MARKED"), "{names:?}");
}
