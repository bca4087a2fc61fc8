//! Sentences built from the shapes of threats (docs/model.md, ../shared/notes'
//! threat-language taxonomy: who · intent · harm · target · condition · time), and the
//! contrasts that share their words: reports, negations, protection, idiom, campaign
//! urgency, questions and plain business.
//!
//! Real threats are few and every one of them is worded once; these teach the model
//! which *combinations* matter, so that a weight learned for "I will … your neck" also
//! serves "we'll … your church". Every slot list is general vocabulary; none is a
//! sentence of an evaluation message.

/// A small deterministic generator (xorshift64*), so a build is reproducible.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number below `n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    /// One item of a list.
    pub fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list.get(self.below(list.len())).copied().unwrap_or("")
    }
}

/// Fills `{slot}`s of a template from the slot lists.
fn fill(rng: &mut Rng, template: &str, slots: &[(&str, &[&str])]) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let name = &after[..close];
        match slots.iter().find(|(n, _)| *n == name) {
            Some((_, list)) => {
                let v = rng.pick(list);
                // A filler may itself hold slots.
                if v.contains('{') {
                    out.push_str(&fill(rng, v, slots));
                } else {
                    out.push_str(v);
                }
            }
            None => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

const EN_SLOTS: &[(&str, &[&str])] = &[
    (
        "me",
        &[
            "I",
            "we",
            "my brothers",
            "my people",
            "one of us",
            "my friends and I",
            "our guys",
            "I personally",
            "we all",
        ],
    ),
    (
        "will",
        &[
            "will",
            "am going to",
            "are going to",
            "'ll",
            "'m gonna",
            "are gonna",
            "swear I will",
            "promise to",
            "intend to",
            "plan to",
            "can't wait to",
            "will personally",
            "am coming to",
            "are coming to",
            "will make sure to",
            "are ready to",
        ],
    ),
    (
        "harm",
        &[
            "kill {obj}",
            "shoot {obj}",
            "stab {obj}",
            "hurt {obj}",
            "beat {obj} to a pulp",
            "strangle {obj}",
            "slit {poss} throat",
            "break {poss} {body}",
            "put a bullet in {poss} head",
            "cut {obj} open",
            "hunt {obj} down",
            "come after {obj}",
            "make {obj} pay",
            "end {obj}",
            "bury {obj}",
            "gut {obj}",
            "burn {obj} alive",
            "blow {poss} head off",
            "smash {poss} face in",
            "bash {poss} skull in",
            "drag {obj} out of {poss} house",
            "teach {obj} a lesson {obj} won't forget",
            "ruin {poss} life",
            "torch {poss} {place}",
            "burn down {poss} {place}",
            "blow up {poss} {place}",
            "set fire to {poss} {place}",
            "shoot up {poss} {place}",
            "wreck {poss} car",
            "pay {obj} a visit {time} and finish {obj}",
            "drive over to {poss} {place} and {short}",
            "find {obj} and {short}",
            "wait for {obj} outside and {short}",
        ],
    ),
    (
        "short",
        &[
            "kill {obj}",
            "break {poss} {body}",
            "shoot {obj}",
            "beat {obj} senseless",
            "slit {poss} throat",
            "hurt {obj} badly",
            "finish {obj} off",
        ],
    ),
    (
        "obj",
        &[
            "you",
            "you",
            "you",
            "your wife",
            "your kids",
            "your family",
            "your husband",
            "your daughter",
            "your son",
            "your mother",
            "your staff",
            "you and your family",
            "every one of you",
            "you people",
            "the clerk",
            "the judge",
            "your boss",
            "your little girl",
        ],
    ),
    (
        "poss",
        &[
            "your",
            "your",
            "your",
            "your wife's",
            "your kid's",
            "your son's",
            "your husband's",
            "your daughter's",
        ],
    ),
    (
        "body",
        &[
            "neck", "legs", "arms", "jaw", "skull", "knees", "fingers", "back", "nose", "ribs",
        ],
    ),
    (
        "place",
        &[
            "house",
            "home",
            "office",
            "church",
            "shop",
            "store",
            "car",
            "restaurant",
            "clinic",
            "school",
            "campaign office",
            "polling place",
            "farm",
            "mosque",
            "synagogue",
            "salon",
            "garage",
        ],
    ),
    (
        "time",
        &[
            "tonight",
            "tomorrow",
            "this weekend",
            "on election day",
            "when you least expect it",
            "soon",
            "before the vote",
            "next week",
            "after the meeting",
            "one of these nights",
            "very soon",
            "when you get home",
        ],
    ),
    (
        "you_act",
        &[
            "certify the results",
            "vote for them",
            "go to the police",
            "call the cops",
            "testify",
            "don't pay",
            "don't resign",
            "keep talking",
            "show up to the meeting",
            "report this",
            "publish that story",
            "open your mouth",
            "show your face in town again",
            "hold that hearing",
            "count those ballots",
            "tell anyone",
            "don't drop the case",
            "run again",
        ],
    ),
    (
        "demand",
        &[
            "resign now",
            "drop the case",
            "withdraw the complaint",
            "stay home on election day",
            "keep your mouth shut",
            "send the money",
            "pay what you owe",
            "get out of town",
            "quit your job",
            "take the story down",
            "vote the right way",
            "stop the recount",
            "leave her alone",
        ],
    ),
    (
        "conseq",
        &[
            "you will regret it",
            "you will pay for it",
            "you're dead",
            "you are a dead man",
            "we will come after you",
            "your family will suffer",
            "something bad will happen to you",
            "you won't live to see next year",
            "we will burn your house down",
            "you'll end up in a ditch",
            "you will be next",
            "your kids will pay",
            "nobody will find the body",
            "it will be the last thing you do",
        ],
    ),
    (
        "passive",
        &[
            "shot",
            "killed",
            "hanged",
            "hunted down",
            "dealt with",
            "taken out",
            "executed",
            "strung up",
            "put down",
            "found in a ditch",
            "beaten",
            "burned alive",
            "made to pay",
        ],
    ),
    (
        "group",
        &[
            "poll worker",
            "election official",
            "judge",
            "reporter",
            "clerk",
            "teacher",
            "doctor",
            "cop",
            "board member",
            "landlord",
            "shop owner",
        ],
    ),
    (
        "know",
        &[
            "I know",
            "we know",
            "I found out",
            "we found",
            "I've got",
            "we have",
        ],
    ),
    (
        "where",
        &[
            "where you live",
            "where your kids go to school",
            "what car you drive",
            "your home address",
            "where your wife works",
            "when you leave the office",
            "which route you take home",
            "where your mother lives",
        ],
    ),
    (
        "sent",
        &[
            "someone paid me to {short}",
            "I've been sent to {short}",
            "my people were told to {short}",
            "they hired me to {short}",
            "I was given the job to {short}",
            "there's a price on your head and I'm collecting it",
        ],
    ),
    (
        "massacre",
        &[
            "a massacre",
            "a bloodbath",
            "what happened at Columbine look small",
            "a mass shooting",
            "the last day of your lives",
        ],
    ),
    (
        "amount",
        &[
            "$2,000",
            "5,000 dollars",
            "1,500 USD",
            "$900",
            "0.1 BTC",
            "$10,000",
        ],
    ),
    (
        "leverage",
        &[
            "your photos",
            "video of you",
            "your browsing history",
            "your emails",
            "your passwords",
            "proof of what you did",
            "your private pictures",
        ],
    ),
    (
        "audience",
        &[
            "your family",
            "your contacts",
            "your employer",
            "everyone you know",
            "your wife",
            "the press",
        ],
    ),
    (
        "deadline",
        &[
            "48 hours",
            "24 hours",
            "two days",
            "three days",
            "the end of the week",
        ],
    ),
    (
        "business",
        &[
            "shop",
            "restaurant",
            "business",
            "family",
            "store",
            "trucks",
            "workers",
        ],
    ),
    (
        "greet",
        &[
            "Hi,",
            "Hello.",
            "Listen.",
            "Read this carefully.",
            "This is your only warning.",
            "Hey",
            "",
        ],
    ),
];

const EN_THREATS: &[&str] = &[
    "{me} {will} {harm} {time}.",
    "{me} {will} {harm}.",
    "{greet} {me} {will} {harm}.",
    "If you {you_act}, {me} {will} {harm}.",
    "If you {you_act} {conseq}.",
    "{demand} or {conseq}.",
    "{demand}, or {me} {will} {harm}.",
    "{me} {will} {harm} unless you {demand}.",
    "You have until {time} to {demand}. After that {conseq}.",
    "{know} {where}. {me} {will} {harm}.",
    "{know} {where}. Think about that before you {you_act}.",
    "{know} {where}, and {time} {me} {will} {short}.",
    "It would be a shame if something happened to {obj}.",
    "Every {group} who helps them will be {passive}.",
    "Any {group} who tries to {you_act} will be {passive}.",
    "Traitors like you will be {passive}.",
    "You will be {passive} {time}.",
    "{obj} will be {passive} {time}.",
    "{sent}.",
    "I am going to shoot up the {place} {time}. Everyone inside dies.",
    "There is a bomb in the {place}. It goes off {time}.",
    "{me} {will} make this {place} {massacre}.",
    "{me} {will} turn your {place} into {massacre}.",
    "Watch your back, {me} {will} {short}.",
    "You won't see it coming. {me} {will} {short}.",
    "I hope someone {wished} you.",
    "You deserve a bullet, and {me} {will} {short}.",
    "I have {leverage}. Send {amount} within {deadline} or I will send everything to {audience}.",
    "Pay {amount} in {deadline} or {audience} will see {leverage}.",
    "A monthly contribution of {amount} keeps your {business} safe. Those who don't pay have accidents.",
    "Pay for protection or your {business} burns.",
    "Don't go to the police. If you do, {conseq}.",
    "Call the cops and {conseq}.",
    "Remember: {know} {where}.",
    "Keep this up and {conseq}.",
];

const EN_WISHED: &[&str] = &["shoots", "kills", "stabs", "hangs", "burns", "runs over"];

const EN_CONTRAST_SLOTS: &[(&str, &[&str])] = &[
    ("he", &["The defendant", "He", "The man", "A Texas man", "The suspect", "She", "The caller", "Prosecutors said the defendant", "According to the complaint, he"]),
    ("threatened", &["threatened to", "said he would", "told the victim he would", "wrote that he would", "admitted he had threatened to", "was charged with threatening to", "pleaded guilty to threatening to"]),
    ("verb3", &["kill", "shoot", "hurt", "burn down the home of", "stab", "harm"]),
    ("victim", &["a county clerk", "his former girlfriend", "a federal judge", "election workers", "a school board member", "his neighbor", "a journalist"]),
    ("report_tail", &["according to court documents", "the indictment says", "police said", "prosecutors said", "the judge wrote", "the jury found", "in voicemails left in March", "in a series of emails"]),
    ("sentence", &["was sentenced to 18 months in prison", "faces up to five years in prison", "was arrested on Tuesday", "was released on bond", "was found not guilty"]),
    ("harmword", &["kill", "hurt", "harm", "attack", "shoot"]),
    ("protect", &["We will protect you", "Our security staff will keep your office safe", "Nobody will hurt you here", "We will make sure your family is safe", "Police will patrol your street tonight"]),
    ("idiom", &[
        "I'd kill for a coffee right now.", "We are going to crush them at the polls in November.", "Let's kill this bill in committee.",
        "Your presentation killed it today.", "We'll beat them in November if we knock on every door.", "This deal is a killer.",
        "Shoot me an email when you're free.", "We blew them away with our fundraising numbers.", "Let's attack the backlog first thing tomorrow.",
        "We need to execute our plan before the deadline.", "I bombed the exam, it was a disaster.", "My feet are killing me.",
        "We're going to fight like hell for every vote.", "Let's take a shot at the new design.", "They'll hit the ground running.",
        "Break a leg tonight!", "That comedian absolutely slayed.", "We're going to destroy the competition at the trade show.",
        "I'm dying to see the new office.", "Let's turn them out on election day.", "We must get the lead out and finish the report.",
        "Our team will tackle the problem head on.", "The storm will hit the coast tonight.", "Knock out the last three tasks and go home.",
        "Let's blow up the poster to full size.", "We'll burn through the budget if we're not careful.", "The flu is killing productivity this week.",
    ]),
    ("business", &[
        "We will ship your order tomorrow.", "I'll take care of your request this afternoon.", "We will deal with your complaint within five days.",
        "Please destroy the document after reading it.", "I will shoot the photos at your house on Friday.", "We'll burn the old files after the audit.",
        "I'll come by your office after lunch.", "We know where the meeting is, see you there.", "I found out where you can park.",
        "Your account will be closed unless you confirm your address.", "Payment is due within 30 days or a late fee applies.",
        "If you do not renew, your subscription will end.", "Send the signed contract by Friday.", "Our team will visit your shop next week to install the system.",
        "We will cut your hair short this time.", "The kids will break the piñata after the cake.",
        "The deadline is tonight at midnight.", "You will be charged $20 for the late return.", "Please keep your password secret and never share it.",
    ]),
    ("campaign", &[
        "If you don't chip in $5 tonight, we will fall behind.", "They are coming after our democracy and we must fight back.",
        "Vote or they will take away your rights.", "Deadline at midnight: give now or we lose this seat.",
        "The other side will stop at nothing to win this race.", "Republicans will destroy Social Security if we let them.",
        "Democrats want to take your guns.", "Your vote is your voice; don't let them silence it.",
    ]),
    ("guidance", &[
        "If you receive a threat, call 911 and keep the message.", "Report any threatening email to the security office.",
        "Election officials who are threatened should contact the FBI.", "Never pay a ransom demand; report it to the police.",
        "Scammers may claim they have your photos and demand bitcoin. Do not pay.", "Do not reply to messages that threaten you.",
        "The attackers encrypted our files and demanded payment; your data may have been exposed.",
    ]),
    ("negated", &["I would never {harmword} you.", "Nobody is going to {harmword} you.", "No one should ever {harmword} a poll worker.", "We will not let anyone {harmword} your family.", "I'm not going to {harmword} anyone, I just want an apology."]),
    ("question", &["Are you going to the meeting tonight?", "Did someone threaten you?", "Who will take care of the kids?", "Will you shoot the video tomorrow?", "Do you know where the office is?"]),
    // Office logistics: the writer holds something of the reader's, or will send, put
    // or take people somewhere; words that threats also use, in ordinary errands.
    ("i_have", &["I have your", "I've got your", "We have your", "I still have your", "HR has your", "The front desk has your"]),
    ("item", &["revised offer letter", "signed contract", "badge", "keys", "package", "expense report", "laptop", "paycheck", "file", "tickets", "phone number", "address", "jacket"]),
    ("offer", &["if you would like to swing by", "if you want to pick it up", "whenever you want to come get it", "so let me know when you can stop by", "and I can bring it over tomorrow", "if you need it before the meeting"]),
    // Harm verbs whose object is a thing: ordinary chores, not violence.
    ("you_should", &["You should", "You need to", "We will", "I'll", "Please", "Don't forget to", "Can you", "They are going to", "Somebody has to", "We must"]),
    ("verb_thing", &[
        "hang the pictures in the hall", "hang the lights on the porch", "hang your coat in the closet", "hang the flag outside",
        "shoot the interview on Monday", "shoot the product photos", "cut the budget by ten percent", "cut the cake after the speeches",
        "burn the old drafts", "burn the slides onto a disc", "kill the process on the server", "kill the lights when you leave",
        "execute the trade before noon", "execute the contract this week", "beat the deadline", "beat the eggs and add the flour",
        "destroy the old hard drives", "attack the backlog", "blow up the photo to poster size", "knock down the old shed",
        "take out the trash", "put down the deposit", "drop the boxes at the depot", "fire the kiln tonight",
    ]),
    // Someone else's account broken into: news and office gossip, not a claim over the
    // reader.
    ("hacker", &["Someone", "Hackers", "We", "They", "A student", "The intern", "Somebody in accounting"]),
    ("hacked", &["hacked into", "got into", "broke into", "took over", "logged into"]),
    ("whose", &["his email", "her account", "their website", "his Facebook page", "the club's mailing list", "her old laptop"]),
    ("hack_tail", &["last week", "and sent spam to everyone", "as a prank", "before IT locked it", "so ignore the last message", "and changed the password"]),
    ("errand", &[
        "I'll send them out tomorrow morning", "We will put you down for two tickets", "I'll take you up on that offer", "I will send you down the final numbers",
        "We can put them up at the hotel near the office", "I'll drop you off at the airport", "We'll pick you up at six", "I will shoot them over to legal today",
        "Let me run you through the numbers", "I'll walk you through the new system", "We will hold you to that", "I'll get back to you next week",
    ]),
];

const EN_CONTRASTS: &[&str] = &[
    "{he} {threatened} {verb3} {victim}, {report_tail}.",
    "{he} {threatened} {verb3} {victim} and {sentence}.",
    "{he} {sentence} after he {threatened} {verb3} {victim}.",
    "{protect}.",
    "{idiom}",
    "{business}",
    "{campaign}",
    "{guidance}",
    "{negated}",
    "{question}",
    "{i_have} {item} {offer}.",
    "{errand}.",
    "{you_should} {verb_thing}.",
    "{hacker} {hacked} {whose} {hack_tail}.",
];

const ES_SLOTS: &[(&str, &[&str])] = &[
    (
        "voy",
        &[
            "te voy a",
            "te vamos a",
            "juro que te voy a",
            "vamos a",
            "voy a",
            "te juro que te voy a",
            "mañana te voy a",
            "un día de estos te voy a",
        ],
    ),
    (
        "harm",
        &[
            "matar",
            "pegar un tiro",
            "meter un tiro",
            "romper las piernas",
            "partir la cara",
            "rajar",
            "quemar la casa",
            "quemar el coche",
            "cortar el cuello",
            "reventar",
            "dar una paliza",
            "destrozar",
            "hacer pagar",
            "buscar y matar",
            "arrancar la cabeza",
            "sacar los ojos",
            "quemar la tienda",
            "volar el local",
            "pegar fuego al negocio",
            "hundir la vida",
            "apuñalar",
            "enterrar",
        ],
    ),
    (
        "tu",
        &[
            "a ti",
            "a ti y a tu familia",
            "a tu mujer",
            "a tus hijos",
            "a tu marido",
            "a tu madre",
            "a tu hija",
            "a todos vosotros",
        ],
    ),
    (
        "cuando",
        &[
            "esta noche",
            "mañana",
            "el fin de semana",
            "cuando menos te lo esperes",
            "pronto",
            "antes de las elecciones",
            "a la salida del trabajo",
            "el día menos pensado",
        ],
    ),
    (
        "si_haces",
        &[
            "vas a la policía",
            "denuncias",
            "no pagas",
            "no dimites",
            "sigues hablando",
            "declaras en el juicio",
            "cuentas algo",
            "vuelves por aquí",
            "publicas eso",
            "no retiras la denuncia",
            "abres la boca",
        ],
    ),
    (
        "exige",
        &[
            "paga lo que debes",
            "retira la denuncia",
            "dimite ya",
            "cállate la boca",
            "vete del pueblo",
            "deja el trabajo",
            "manda el dinero",
            "olvídate de ella",
        ],
    ),
    (
        "consecuencia",
        &[
            "te vas a arrepentir",
            "eres hombre muerto",
            "lo vas a pagar caro",
            "tu familia lo va a pagar",
            "te mato",
            "te quemo la casa",
            "acabas en una cuneta",
            "no vuelves a ver a tus hijos",
            "vas a acabar en el cementerio",
            "te vas a enterar",
            "vas a salir con los pies por delante",
        ],
    ),
    (
        "se_donde",
        &[
            "sé dónde vives",
            "sabemos dónde vives",
            "sé dónde estudian tus hijos",
            "sé a qué hora sales del trabajo",
            "sabemos qué coche tienes",
            "sé dónde trabaja tu mujer",
            "conozco tu casa",
        ],
    ),
    (
        "pasiva",
        &[
            "muerto",
            "colgado",
            "quemado vivo",
            "fusilado",
            "apuñalado",
            "enterrado",
        ],
    ),
    (
        "grupo",
        &[
            "concejal",
            "juez",
            "periodista",
            "funcionario",
            "médico",
            "maestro",
            "policía",
            "árbitro",
            "alcalde",
        ],
    ),
    (
        "lugar",
        &[
            "la casa",
            "el ayuntamiento",
            "la iglesia",
            "el colegio",
            "la tienda",
            "el bar",
            "el consultorio",
            "la oficina",
        ],
    ),
    (
        "cantidad",
        &[
            "2.000 euros",
            "500 euros al mes",
            "mil dólares",
            "0,1 BTC",
            "3.000 euros",
        ],
    ),
    (
        "plazo",
        &["48 horas", "24 horas", "tres días", "el viernes"],
    ),
];

const ES_THREATS: &[&str] = &[
    "{voy} {harm} {cuando}.",
    "{voy} {harm}.",
    "Si {si_haces}, {voy} {harm}.",
    "Si {si_haces}, {consecuencia}.",
    "Como {si_haces}, {consecuencia}.",
    "{exige} o {consecuencia}.",
    "{exige}, que si no {voy} {harm}.",
    "{se_donde}. {voy} {harm} {cuando}.",
    "{se_donde}, así que piénsalo antes de que {si_haces}.",
    "Más te vale {exige}, porque {consecuencia}.",
    "Ándate con cuidado, {se_donde}.",
    "Vas a acabar {pasiva} {cuando}.",
    "Todo {grupo} que les ayude va a acabar {pasiva}.",
    "Gente como tú merece acabar {pasiva}, y {voy} {harm}.",
    "Me han pagado para {harm} {tu}.",
    "Nos han mandado a por ti, {consecuencia}.",
    "Hay una bomba en {lugar}. Explota {cuando}.",
    "Voy a entrar en {lugar} y no va a quedar nadie vivo.",
    "Paga {cantidad} en {plazo} o todos tus contactos verán tus fotos.",
    "Tienes que pagar la cuota de {cantidad} por tu seguridad; los que no pagan tienen accidentes.",
    "No se te ocurra ir a la policía, {consecuencia}.",
    "A {tu} le va a pasar algo {cuando}.",
    "Ojalá alguien te mate {cuando}.",
    "{consecuencia}, {se_donde}.",
];

const ES_CONTRAST_SLOTS: &[(&str, &[&str])] = &[
    (
        "el",
        &[
            "El acusado",
            "El procesado",
            "El hombre",
            "El detenido",
            "La acusada",
            "Según la sentencia, el acusado",
            "El condenado",
        ],
    ),
    (
        "amenazo",
        &[
            "amenazó con",
            "dijo que iba a",
            "le advirtió de que iba a",
            "fue condenado por amenazar con",
            "admitió haber amenazado con",
        ],
    ),
    (
        "verbo3",
        &[
            "matar a",
            "quemar la casa de",
            "agredir a",
            "pegar a",
            "hacer daño a",
        ],
    ),
    (
        "victima",
        &[
            "su expareja",
            "un concejal",
            "la jueza",
            "su vecino",
            "un periodista",
            "la alcaldesa",
        ],
    ),
    (
        "cola",
        &[
            "según la sentencia",
            "según la Guardia Civil",
            "declararon los testigos",
            "relata el tribunal",
            "considera probado la Audiencia",
        ],
    ),
    (
        "otros",
        &[
            "Me muero de ganas de verte este fin de semana.",
            "Vamos a machacar al rival el domingo.",
            "Esta oferta es una bomba.",
            "Ese chiste me mata de risa.",
            "Vamos a arrasar en las elecciones.",
            "Si no votas, perderemos el ayuntamiento.",
            "Si recibe amenazas, llame al 091 y guarde el mensaje.",
            "Nunca te haría daño.",
            "Nadie te va a tocar, tranquila.",
            "Te voy a mandar el contrato mañana.",
            "Vamos a quemar las etapas del proyecto rápido.",
            "Si no pagas antes del día 5, se aplicará un recargo.",
            "La policía protegerá a tu familia.",
            "Te voy a matar a besos cuando vuelvas.",
            "Voy a pasar por tu casa a recoger las llaves.",
            "Sé dónde vives, te llevo los libros el lunes.",
            "Nunca pagues a quien te amenace con publicar tus fotos; denúncialo.",
            "Los estafadores dicen que tienen fotos tuyas y piden dinero: no pagues.",
            "Mañana vamos a romper el récord de ventas.",
            "¿Vas a venir a la reunión esta noche?",
            "¿Alguien te ha amenazado?",
            "El partido está muerto, vamos a remontar.",
        ],
    ),
    (
        "tengo",
        &[
            "Tengo tu",
            "Tenemos tu",
            "Todavía tengo tu",
            "En recepción tienen tu",
        ],
    ),
    (
        "cosa",
        &[
            "carta de oferta",
            "contrato firmado",
            "paquete",
            "tarjeta de acceso",
            "portátil",
            "nómina",
            "expediente",
            "número de teléfono",
            "dirección nueva",
        ],
    ),
    (
        "oferta",
        &[
            "si quieres pasar a recogerla",
            "cuando quieras venir a buscarlo",
            "así que avísame cuando puedas pasar",
            "y te lo llevo mañana",
            "por si lo necesitas antes de la reunión",
        ],
    ),
];

const ES_CONTRASTS: &[&str] = &[
    "{el} {amenazo} {verbo3} {victima}, {cola}.",
    "{el} {amenazo} {verbo3} {victima}.",
    "{otros}",
    "{tengo} {cosa} {oferta}.",
];

/// Frames that quote a threat to condemn, report or discuss it: counter-speech and
/// reported speech (threat-language notes §5). The quoted threat is generated as above;
/// the whole is not a threat.
const EN_QUOTING: &[&str] = &[
    "Someone wrote \"{q}\" on our page. That is not acceptable and we reported it.",
    "\"{q}\" is the kind of message you should forward to the police.",
    "Messages like \"{q}\" are threats, and threats are crimes.",
    "The email said: \"{q}\" Staff called the sheriff, who is investigating.",
    "Saying \"{q}\" is never okay, even as a joke.",
    "We received a voicemail saying \"{q}\" and have handed it to investigators.",
    "If anyone tells you \"{q}\", call 911.",
    "According to the complaint, he wrote: \"{q}\"",
];

const ES_QUOTING: &[&str] = &[
    "Alguien escribió \"{q}\" en nuestra página. Es inaceptable y lo hemos denunciado.",
    "Mensajes como \"{q}\" son amenazas, y las amenazas son delito.",
    "Según la sentencia, el acusado le dijo: \"{q}\"",
    "Si alguien te dice \"{q}\", llama al 112.",
    "Decir \"{q}\" nunca está bien, ni en broma.",
    "Recibimos un mensaje que decía \"{q}\" y lo hemos puesto en manos de la Guardia Civil.",
];

/// Slot names with their fillers.
type Slots<'a> = &'a [(&'a str, &'a [&'a str])];

/// One generated example.
pub struct Example {
    /// The text.
    pub text: String,
    /// Whether it is a threat.
    pub threat: bool,
    /// Which template made it (for the report).
    pub template: usize,
}

/// `n` threats and `n` contrasts in English and in Spanish (`n / 2` each), from `seed`.
pub fn generate(seed: u64, n: usize) -> Vec<Example> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n * 2);
    let slots_en: Vec<(&str, &[&str])> = EN_SLOTS
        .iter()
        .copied()
        .chain([("wished", EN_WISHED)])
        .collect();
    for (language, count) in [(0, n - n / 2), (1, n / 2)] {
        let (threats, t_slots, contrasts, c_slots): (&[&str], Slots<'_>, &[&str], Slots<'_>) =
            if language == 0 {
                (EN_THREATS, &slots_en, EN_CONTRASTS, EN_CONTRAST_SLOTS)
            } else {
                (ES_THREATS, ES_SLOTS, ES_CONTRASTS, ES_CONTRAST_SLOTS)
            };
        for _ in 0..count {
            let t = rng.below(threats.len());
            let text = capitalise(fill(&mut rng, threats[t], t_slots).trim());
            out.push(Example {
                text: tidy(&text),
                threat: true,
                template: t,
            });
            // Every fourth contrast quotes a threat to condemn or report it.
            let (text, template) = if rng.below(4) == 0 {
                let quoting = if language == 0 {
                    EN_QUOTING
                } else {
                    ES_QUOTING
                };
                let q = rng.below(quoting.len());
                let t = rng.below(threats.len());
                let quoted = capitalise(fill(&mut rng, threats[t], t_slots).trim());
                (quoting[q].replace("{q}", &tidy(&quoted)), 2000 + q)
            } else {
                let c = rng.below(contrasts.len());
                (
                    capitalise(fill(&mut rng, contrasts[c], c_slots).trim()),
                    1000 + c,
                )
            };
            out.push(Example {
                text: tidy(&text),
                threat: false,
                template,
            });
        }
    }
    out
}

/// Joins "I 'll" into "I'll" and drops doubled spaces left by empty fillers.
fn tidy(s: &str) -> String {
    s.replace(" 'll", "'ll")
        .replace(" 'm", "'m")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_reproducible_and_fills_every_slot() {
        let a = generate(7, 400);
        let b = generate(7, 400);
        assert_eq!(a.len(), 800);
        assert!(a.iter().zip(&b).all(|(x, y)| x.text == y.text));
        for e in &a {
            assert!(!e.text.contains('{'), "unfilled slot in {:?}", e.text);
            assert!(!e.text.is_empty());
        }
        assert_eq!(a.iter().filter(|e| e.threat).count(), 400);
        assert!(
            a.iter()
                .any(|e| e.text.contains("I'll") || e.text.contains("we'll"))
                || a.iter().any(|e| e.text.contains("will"))
        );
    }
}
