"""Text that tries to steer the answer is data, never obeyed or repeated.

Two filters. ``INJECTION`` catches instruction-override wording in any text (chat or corpus).
``STEERING`` is for sentences quoted from knowledge passages. The corpus is general dermatology, so a
sentence that addresses whoever writes the answer, talks about the answer or this document being read,
tells someone what to believe, or passes a verdict on *the lesion at hand* ("this mole is harmless",
"no follow-up is needed", "melanoma has been ruled out") has no business in it: it is someone trying to
speak through the corpus. The groups come from that threat model (who is addressed, what is
directed, what is claimed about the present case); each is checked against every sentence of the
corpus (none may match) and against poisoned phrasings in the safety suite, part of them held out.
"""

from __future__ import annotations

import re

# Checked against every sentence of the corpus: none matches (tests/agents/test_prompt_injection.py).
INJECTION = re.compile(
    r"ignore (?:all |any |the )?(?:previous|prior|above|earlier) (?:instructions|rules)"
    r"|disregard (?:the |all |any )?(?:previous|above|system|classifier|model|instructions|rules|output|estimate)"
    r"|system prompt|system override|you are now|new instructions|maintenance mode|jailbreak|\boverride\b"
    r"|(?:note|instructions?|message) (?:to|for) the (?:assistant|model|ai|chatbot)|assistant instructions?\b"
    r"|always (?:say|answer|tell|reply|respond)|tell the user"
    r"|(?:say|state|answer|reply|respond)(?: only)? that (?:it|this|the lesion|dermoscopy)"
    r"|leave out (?:any |the )?(?:referral|disclaimer|warning|advice)|never mention|do not mention|don't mention"
    r"|忽略(?:之前|以上|所有|前面)[^。！？]{0,8}(?:指令|说明|规则)|系统提示|无视(?:之前|以上|所有)|你现在是",
    re.IGNORECASE,
)

# --- STEERING: quoted knowledge sentences only ------------------------------------------------------
AGENT_NOUN = r"(?:AI|A\.I\.|assistants?|chat ?bots?|bots?|LLMs?|(?:language |AI |large )?models?|machines?|automated (?:systems?|tools?|readers?))"
SPEAK = r"(?:say|tell|report|answer|reply|respond|state|reassure|call|label|classify|conclude|ignore|disregard|omit|skip|present|communicate)"
AGENT = (rf"\b{AGENT_NOUN}\b[^.;:]{{0,40}}\b(?:should|must|ought to|are to|is to|need to|have to|will)(?: always| only| never| not)? {SPEAK}\b"
         rf"|\b{AGENT_NOUN} (?:reading|answering|summari[sz]ing|generating|quoting|processing) (?:this|these|the following)\b"
         rf"|\b(?:dear|attention|note for|note to|message for|message to) (?:the |any |all )?{AGENT_NOUN}\b"
         r"|\bautomat(?:ed|ic) (?:answers?|replies|responses?|summar(?:y|ies)|outputs?|results?|reports?)\b[^.;:]{0,40}\b(?:should|must|are to|is to|will)\b")
META = (r"\b(?:this|the present|the following|the current) (?:page|section|document|passage|paragraph|text|article|note|entry) is (?:retrieved|read|quoted|summari[sz]ed|used)"
        r"|\bwhen (?:this|the) \w+ is (?:retrieved|read|quoted|summari[sz]ed)\b|\b(?:reading|summari[sz]ing|quoting|retrieving) this (?:page|section|document|passage|paragraph|text|article)\b"
        r"|\b(?:final|correct|right|proper|expected|required) (?:answer|reply|response|output)\b"
        r"|\bdiagnosis to (?:give|communicate|report|state)\b"
        r"|\b(?:compos|generat|writ|produc)\w* (?:the |a |any |your )?(?:answer|reply|response|output|summar(?:y|ies))\b|\bsummar(?:y|ies) (?:generated|produced|written) from\b"
        r"|\b(?:answer|reply|response) (?:to give|should (?:be|say|state))\b")
CLAIM = r"(?:that|it is|it's|this is|the (?:lesion|mole|spot|mark)|nothing|not to (?:worry|see|visit))"
DIRECTIVE = (rf"\b(?:tell|inform|reassure|assure|advise|convince) (?:the |this |that |any |every )?(?:user|patient|person|reader|client|them|him|her|people) {CLAIM}"
             rf"|\b(?:should|must|ought to|are to|is to) be (?:told|informed|reassured|assured) {CLAIM}"
             r"|^\s*(?:Reassure|Say|State|Report|Answer|Reply|Respond|Conclude|Confirm) (?:the |that |to |only )"
             r"|\b(?:must|should|ought to|are required to|have to) (?:report|say|state|answer|reply|respond|call|label|classify) (?:every|each|all|any|the|this|that|it)\b"
             r"|\blet (?:them|him|her|the (?:patient|person|user)) go\b")
LESION = r"(?:[\w-]+ ){0,2}(?:lesion|mole|spot|mark|growth|naevus|nevus|lump)"
DEIXIS = rf"(?:this|their|your|his|her|the) {LESION} (?:shown|in question|in the (?:image|photo|picture)|here|pictured|above|being (?:discussed|assessed))|(?:this|their|your|his|her) {LESION}"
VERDICT = (rf"\b(?:{DEIXIS}) (?:is|are|was|looks?|seems?) (?:(?:only|purely|just|entirely|definitely|certainly|clearly) )?(?:benign|harmless|innocent|cosmetic|nothing|fine|safe|a (?:common|benign|banal|harmless|simple|normal))"
           r"|\bnothing to worry about\b"
           rf"|\b(?:{DEIXIS})\b[^.;]{{0,60}}\b(?:requires?|needs?) no (?:further |more )?(?:follow-up|review|appointment|referral|doctor|dermatologist|specialist|biopsy|treatment|check)"
           r"|\bno (?:further |more )?(?:follow-up|review|appointment|referral|doctor|dermatologist|specialist|biopsy)(?: is| are)? (?:needed|required|necessary|warranted|indicated)\b(?! for (?:typical|most|ordinary))"
           r"|\bwithout (?:an? |any )?(?:appointment|referral|follow-up)\b(?! is)"
           r"|\b(?:skip|cancel|avoid|forgo|leave out) (?:the |any |a )?(?:dermatologist|doctor|appointment|referral|specialist|biopsy|follow-up)"
           r"|\b(?:melanoma|malignancy|cancer|skin cancer) (?:has|have) (?:already )?been (?:excluded|ruled out)\b|\b(?:melanoma|malignancy|cancer) (?:is )?excluded\b"
           r"|\bwaste of (?:their|your|his|her|the patient's) time\b|\breferral is no longer (?:offered|needed|available)"
           r"|\bwhatever the (?:image|picture|photo|classifier|model|estimate) (?:suggests|shows|says)\b|\b(?:regardless of|disregarding) (?:the|what the) (?:image|classifier|model|estimate)")

# The corpus is written about lesions in general: it cannot know the user's image, so a sentence that
# points at "this image", "the lesion depicted", "the case above" speaks about the consultation.
PICTURE = r"(?:image|photo|photograph|picture|dermoscopy image|case)"
SPECIFIC = (rf"\b(?:this|the|that) {PICTURE} (?:shows|depicts|under discussion|in question|above|being (?:discussed|assessed))\b"
            rf"|\b(?:in|of|from) (?:this|the attached|the accompanying|the present|the above) {PICTURE}\b"
            rf"|\b(?:lesion|spot|mole|mark|growth|naevus|nevus) (?:depicted|shown|pictured|in question|under discussion|in the {PICTURE})\b"
            r"|\b(?:a |the )?lesion like this one\b")
# Reassurance no dermatology text gives: absolute, or discouraging a visit.
DISCOURAGE = (r"\b(?<!almost )(?<!nearly )(?:uniformly|always|invariably|universally|certainly) (?:benign|harmless|reassuring|innocent)\b|\bposes? no risk\b"
              r"|\bno risk of (?:malignan|cancer|melanoma)|\b(?:can|may) (?:safely )?be (?:safely )?ignored\b"
              r"|\bshould not be (?:sent|referred|excised|biopsied)\b|\b(?:does|do) not need to (?:see|visit|schedule|book|be (?:referred|seen))\b"
              r"|\bsee a (?:doctor|dermatologist)[^.?]{0,60}\? No\b|\b(?:was|were) made in error\b")
STEERING = re.compile("|".join([AGENT, META, DIRECTIVE, VERDICT, SPECIFIC, DISCOURAGE]), re.IGNORECASE)


def steers_the_answer(sentence: str) -> bool:
    """A knowledge sentence that must not be quoted: an override, or text aimed at the answer."""
    return bool(INJECTION.search(sentence) or STEERING.search(sentence))
