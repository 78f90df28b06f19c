"""Fixed phrases of the interview agent, per language.

English is complete and is the fallback for any key or language that is missing. Placeholders are
`str.format` fields: `{name}`, `{topic}`, `{phrase}`, `{sub_topic}`, `{minutes}`, `{goal}`.
Campaign text (goal, context, questions) is never translated: it is used as the researcher wrote it.
"""

from __future__ import annotations

from typing import Any

EN: dict[str, Any] = {
    "steer_back": "Coming back to {topic}:",
    "greeting": "Hi {name}, thanks for taking the time to talk with me.",
    "greeting_anonymous": "Hi, thanks for taking the time to talk with me.",
    "purpose": "This conversation is part of {campaign}: {goal}",
    "context": "Some background: {context}",
    "ground_rules": (
        "There are no right or wrong answers, and it should take about {minutes} minutes. You can skip any question."
    ),
    "role_question": "To start, could you tell me a bit about your role and what a typical week looks like?",
    "topic_intro": [
        "Let's talk about {topic}.",
        "Next, I'd like to understand {topic}.",
        "Moving on to {topic}.",
        "Now let's turn to {topic}.",
    ],
    "topic_generic_question": "How does {topic} work for you today?",
    "sub_topic_question": [
        "How does {sub_topic} work in your case?",
        "What about {sub_topic}: how is that handled today?",
        "Could you tell me about {sub_topic}?",
        "Where does {sub_topic} fit into this for you?",
    ],
    "ack": ["Thanks, that's helpful.", "That makes sense.", "Thank you.", "Got it.", "I see.", "Understood."],
    "ack_rich": [
        "That's really useful detail.",
        "Thanks for walking me through that.",
        "That paints a clear picture.",
    ],
    "follow_up": {
        "walkthrough": [
            "Can you walk me through the last time \u201c{phrase}\u201d came up, step by step?",
            "Could you take me through a recent example involving \u201c{phrase}\u201d?",
        ],
        "why": [
            "Why does \u201c{phrase}\u201d matter to you?",
            "What makes \u201c{phrase}\u201d important in your work?",
        ],
        "problems": [
            "What tends to go wrong with \u201c{phrase}\u201d?",
            "Where does \u201c{phrase}\u201d get difficult or slow?",
        ],
        "impact": [
            "What does that cost you when it happens, in time, money or stress?",
            "Who feels the consequences when that goes wrong?",
        ],
        "workaround": [
            "How do you work around that today?",
            "What do you do in the meantime when that happens?",
        ],
        "tools": [
            "Which tools, systems or documents do you use for \u201c{phrase}\u201d?",
            "What do you use to keep track of \u201c{phrase}\u201d?",
        ],
        "ideal": [
            "If you could change one thing about \u201c{phrase}\u201d, what would it be?",
            "What would a better way of handling \u201c{phrase}\u201d look like?",
        ],
    },
    "elaborate": [
        "Could you say a bit more about that?",
        "Could you give me an example?",
        "What does that look like in practice?",
    ],
    "empty": [
        "No rush. Whenever you're ready, just type your answer.",
        "Take your time. If you'd rather skip this one, just say so.",
    ],
    "hostile": [
        "I'm sorry this is frustrating. Your perspective really matters here, and you can skip anything.",
        "I understand, and I appreciate your honesty. We can keep this short.",
    ],
    "off_topic": "Thanks for sharing that.",
    "skip_ack": ["No problem, let's move on.", "Fair enough.", "Okay, thanks.", "That's fine.", "Noted."],
    "wrap_up_question": "Before we finish, is there anything important we haven't covered?",
    "time_note": "We're almost out of time, so just one more area.",
    "closing": "Thank you so much for your time, {name}. Your answers will help us understand where to improve.",
    "closing_anonymous": "Thank you so much for your time. Your answers will help us understand where to improve.",
}

FR: dict[str, Any] = {
    "steer_back": "Pour revenir à {topic} :",
    "greeting": "Bonjour {name}, merci de prendre le temps d'échanger avec moi.",
    "greeting_anonymous": "Bonjour, merci de prendre le temps d'échanger avec moi.",
    "purpose": "Cet entretien fait partie de {campaign} : {goal}",
    "context": "Pour le contexte : {context}",
    "ground_rules": (
        "Il n'y a pas de bonne ou de mauvaise réponse, et cela devrait prendre environ {minutes} minutes. "
        "Vous pouvez passer n'importe quelle question."
    ),
    "role_question": "Pour commencer, pourriez-vous me parler de votre rôle et d'une semaine type ?",
    "topic_intro": ["Parlons de {topic}.", "J'aimerais maintenant comprendre {topic}.", "Passons à {topic}."],
    "topic_generic_question": "Comment {topic} fonctionne-t-il pour vous aujourd'hui ?",
    "sub_topic_question": [
        "Comment se passe {sub_topic} dans votre cas ?",
        "Et {sub_topic} : comment est-ce géré aujourd'hui ?",
        "Pourriez-vous me parler de {sub_topic} ?",
    ],
    "ack": ["Merci, c'est utile.", "Je comprends.", "Merci.", "D'accord."],
    "ack_rich": ["C'est un détail très utile.", "Merci de m'avoir expliqué cela."],
    "follow_up": {
        "walkthrough": [
            "Pouvez-vous me raconter la dernière fois où \u00ab {phrase} \u00bb s'est produit, étape par étape ?",
            "Pourriez-vous me donner un exemple récent concernant \u00ab {phrase} \u00bb ?",
        ],
        "why": ["Pourquoi \u00ab {phrase} \u00bb est-il important pour vous ?"],
        "problems": ["Qu'est-ce qui se passe mal avec \u00ab {phrase} \u00bb ?"],
        "impact": ["Qu'est-ce que cela vous coûte quand cela arrive, en temps, en argent ou en stress ?"],
        "workaround": ["Comment contournez-vous cela aujourd'hui ?"],
        "tools": ["Quels outils ou systèmes utilisez-vous pour \u00ab {phrase} \u00bb ?"],
        "ideal": ["Si vous pouviez changer une chose à \u00ab {phrase} \u00bb, ce serait quoi ?"],
    },
    "elaborate": ["Pourriez-vous en dire un peu plus ?", "Pourriez-vous me donner un exemple ?"],
    "empty": ["Prenez votre temps. Si vous préférez passer cette question, dites-le simplement."],
    "hostile": ["Je suis désolé que ce soit frustrant. Votre avis compte, et vous pouvez passer n'importe quoi."],
    "off_topic": "Merci de l'avoir partagé.",
    "skip_ack": "Pas de problème, passons à la suite.",
    "wrap_up_question": "Avant de terminer, y a-t-il quelque chose d'important que nous n'avons pas abordé ?",
    "time_note": "Nous arrivons bientôt à la fin, donc un dernier sujet.",
    "closing": "Merci beaucoup pour votre temps, {name}. Vos réponses nous aideront à nous améliorer.",
    "closing_anonymous": "Merci beaucoup pour votre temps. Vos réponses nous aideront à nous améliorer.",
}

DE: dict[str, Any] = {
    "steer_back": "Zurück zu {topic}:",
    "greeting": "Hallo {name}, danke, dass Sie sich Zeit für dieses Gespräch nehmen.",
    "greeting_anonymous": "Hallo, danke, dass Sie sich Zeit für dieses Gespräch nehmen.",
    "purpose": "Dieses Gespräch ist Teil von {campaign}: {goal}",
    "context": "Zum Hintergrund: {context}",
    "ground_rules": (
        "Es gibt keine richtigen oder falschen Antworten, und es dauert etwa {minutes} Minuten. "
        "Sie können jede Frage überspringen."
    ),
    "role_question": "Könnten Sie zu Beginn kurz Ihre Rolle beschreiben und wie eine typische Woche aussieht?",
    "topic_intro": ["Sprechen wir über {topic}.", "Als Nächstes möchte ich {topic} verstehen."],
    "topic_generic_question": "Wie funktioniert {topic} heute bei Ihnen?",
    "sub_topic_question": ["Wie läuft {sub_topic} bei Ihnen?", "Und {sub_topic}: Wie wird das heute gehandhabt?"],
    "ack": ["Danke, das hilft.", "Verstehe.", "Danke."],
    "ack_rich": ["Das ist sehr hilfreich.", "Danke, dass Sie das so genau beschreiben."],
    "follow_up": {
        "walkthrough": [
            "Können Sie mir das letzte Mal, als es um \u201e{phrase}\u201c ging, Schritt für Schritt schildern?",
        ],
        "why": ["Warum ist \u201e{phrase}\u201c für Sie wichtig?"],
        "problems": ["Was läuft bei \u201e{phrase}\u201c typischerweise schief?"],
        "impact": ["Was kostet Sie das, wenn es passiert, an Zeit, Geld oder Nerven?"],
        "workaround": ["Wie helfen Sie sich heute in solchen Fällen?"],
        "tools": ["Welche Werkzeuge oder Systeme nutzen Sie für \u201e{phrase}\u201c?"],
        "ideal": ["Wenn Sie eine Sache an \u201e{phrase}\u201c ändern könnten, welche wäre das?"],
    },
    "elaborate": ["Könnten Sie das etwas genauer erklären?", "Haben Sie ein Beispiel?"],
    "empty": ["Lassen Sie sich Zeit. Wenn Sie die Frage überspringen möchten, sagen Sie es einfach."],
    "hostile": [
        "Es tut mir leid, dass das frustrierend ist. Ihre Sicht ist wichtig, und Sie können alles überspringen."
    ],
    "off_topic": "Danke, dass Sie das teilen.",
    "skip_ack": "Kein Problem, machen wir weiter.",
    "wrap_up_question": "Bevor wir schließen: Gibt es etwas Wichtiges, das wir nicht angesprochen haben?",
    "time_note": "Die Zeit ist fast um, daher nur noch ein Bereich.",
    "closing": "Vielen Dank für Ihre Zeit, {name}. Ihre Antworten helfen uns sehr.",
    "closing_anonymous": "Vielen Dank für Ihre Zeit. Ihre Antworten helfen uns sehr.",
}

ES: dict[str, Any] = {
    "steer_back": "Volviendo a {topic}:",
    "greeting": "Hola {name}, gracias por dedicar tiempo a esta conversación.",
    "greeting_anonymous": "Hola, gracias por dedicar tiempo a esta conversación.",
    "purpose": "Esta conversación forma parte de {campaign}: {goal}",
    "context": "Como contexto: {context}",
    "ground_rules": (
        "No hay respuestas correctas o incorrectas, y debería durar unos {minutes} minutos. "
        "Puede saltarse cualquier pregunta."
    ),
    "role_question": "Para empezar, ¿podría contarme un poco sobre su puesto y cómo es una semana típica?",
    "topic_intro": ["Hablemos de {topic}.", "Ahora me gustaría entender {topic}."],
    "topic_generic_question": "¿Cómo funciona {topic} para usted hoy?",
    "sub_topic_question": ["¿Cómo funciona {sub_topic} en su caso?", "¿Y {sub_topic}? ¿Cómo se gestiona hoy?"],
    "ack": ["Gracias, es útil.", "Entiendo.", "Gracias."],
    "ack_rich": ["Es un detalle muy útil.", "Gracias por explicarlo paso a paso."],
    "follow_up": {
        "walkthrough": ["¿Podría contarme paso a paso la última vez que ocurrió \u00ab{phrase}\u00bb?"],
        "why": ["¿Por qué es importante \u00ab{phrase}\u00bb para usted?"],
        "problems": ["¿Qué suele salir mal con \u00ab{phrase}\u00bb?"],
        "impact": ["¿Qué le cuesta cuando eso ocurre, en tiempo, dinero o estrés?"],
        "workaround": ["¿Cómo lo resuelve hoy mientras tanto?"],
        "tools": ["¿Qué herramientas o sistemas usa para \u00ab{phrase}\u00bb?"],
        "ideal": ["Si pudiera cambiar una cosa de \u00ab{phrase}\u00bb, ¿cuál sería?"],
    },
    "elaborate": ["¿Podría contarme un poco más?", "¿Tiene algún ejemplo?"],
    "empty": ["Tómese su tiempo. Si prefiere saltar esta pregunta, solo dígalo."],
    "hostile": ["Siento que resulte frustrante. Su opinión importa y puede saltarse cualquier pregunta."],
    "off_topic": "Gracias por compartirlo.",
    "skip_ack": "No hay problema, sigamos.",
    "wrap_up_question": "Antes de terminar, ¿hay algo importante que no hayamos tratado?",
    "time_note": "Casi se nos acaba el tiempo, así que solo un tema más.",
    "closing": "Muchas gracias por su tiempo, {name}. Sus respuestas nos ayudarán a mejorar.",
    "closing_anonymous": "Muchas gracias por su tiempo. Sus respuestas nos ayudarán a mejorar.",
}

NL: dict[str, Any] = {
    "steer_back": "Terug naar {topic}:",
    "greeting": "Hallo {name}, bedankt dat je tijd maakt voor dit gesprek.",
    "greeting_anonymous": "Hallo, bedankt dat je tijd maakt voor dit gesprek.",
    "purpose": "Dit gesprek is onderdeel van {campaign}: {goal}",
    "context": "Als achtergrond: {context}",
    "ground_rules": (
        "Er zijn geen goede of foute antwoorden, en het duurt ongeveer {minutes} minuten. Je kunt elke vraag overslaan."
    ),
    "role_question": "Kun je om te beginnen iets vertellen over je rol en hoe een gewone week eruitziet?",
    "topic_intro": ["Laten we het hebben over {topic}.", "Nu wil ik graag {topic} begrijpen."],
    "topic_generic_question": "Hoe werkt {topic} vandaag voor jou?",
    "sub_topic_question": ["Hoe gaat {sub_topic} bij jou?", "En {sub_topic}: hoe wordt dat nu geregeld?"],
    "ack": ["Dank je, dat helpt.", "Duidelijk.", "Dank je."],
    "ack_rich": ["Dat is heel nuttige informatie.", "Bedankt voor die uitleg."],
    "follow_up": {
        "walkthrough": ["Kun je me stap voor stap meenemen in de laatste keer dat \u201c{phrase}\u201d speelde?"],
        "why": ["Waarom is \u201c{phrase}\u201d belangrijk voor jou?"],
        "problems": ["Wat gaat er vaak mis met \u201c{phrase}\u201d?"],
        "impact": ["Wat kost het je als dat gebeurt, aan tijd, geld of stress?"],
        "workaround": ["Hoe los je dat nu op?"],
        "tools": ["Welke hulpmiddelen of systemen gebruik je voor \u201c{phrase}\u201d?"],
        "ideal": ["Als je één ding aan \u201c{phrase}\u201d kon veranderen, wat zou dat zijn?"],
    },
    "elaborate": ["Kun je daar iets meer over vertellen?", "Heb je een voorbeeld?"],
    "empty": ["Neem je tijd. Als je deze vraag liever overslaat, zeg het gerust."],
    "hostile": ["Sorry dat dit frustrerend is. Jouw mening telt, en je kunt alles overslaan."],
    "off_topic": "Bedankt dat je dat deelt.",
    "skip_ack": "Geen probleem, we gaan verder.",
    "wrap_up_question": "Voordat we afronden: is er iets belangrijks dat we nog niet besproken hebben?",
    "time_note": "We zijn bijna door onze tijd heen, dus nog één onderwerp.",
    "closing": "Heel erg bedankt voor je tijd, {name}. Je antwoorden helpen ons echt verder.",
    "closing_anonymous": "Heel erg bedankt voor je tijd. Je antwoorden helpen ons echt verder.",
}

LANGUAGES: dict[str, dict[str, Any]] = {"en": EN, "fr": FR, "de": DE, "es": ES, "nl": NL}


def language_code(language: str | None) -> str:
    """`fr-CA` → `fr`; unknown languages fall back to English."""
    code = (language or "en").strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else "en"


class Phrases:
    """Look-ups in one language with English as the fallback, key by key."""

    def __init__(self, language: str | None) -> None:
        self.code = language_code(language)
        self.table = LANGUAGES[self.code]

    def get(self, key: str) -> Any:
        return self.table.get(key, EN[key])

    def pick(self, key: str, index: int) -> str:
        """One variant of a phrase that may have several (rotating by `index`)."""
        value = self.get(key)
        if isinstance(value, list):
            return value[index % len(value)]
        return value

    def follow_ups(self, kind: str) -> list[str]:
        table = self.table.get("follow_up", {})
        return list(table.get(kind) or EN["follow_up"][kind])
