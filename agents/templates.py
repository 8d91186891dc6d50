"""Every sentence template the deterministic composer uses, in English and Chinese.

Templates carry no facts of their own: the values come from the prediction, the measured
features, the retrieved cases and passages, and the composer adds the citation markers.
"""

from __future__ import annotations

from knowledge.advice import DISCLAIMER
from knowledge.taxonomy import Language

T: dict[str, dict[str, str]] = {
    "estimate": {
        "en": "**Estimate (not a diagnosis):** the most likely class is {c1} at {p1}, followed by {c2} at {p2} and {c3} at {p3}.",
        "zh": "**估计（并非诊断）**：最可能的类别是{c1}（{p1}），其次是{c2}（{p2}）和{c3}（{p3}）。",
    },
    "estimate_abstain": {
        "en": "**Estimate (not a diagnosis):** the classifier is not confident on this image; its most likely class, {c1}, has only {p1}, followed by {c2} at {p2} and {c3} at {p3}.",
        "zh": "**估计（并非诊断）**：分类器对这张图像没有把握；最可能的类别{c1}仅占{p1}，其次是{c2}（{p2}）和{c3}（{p3}）。",
    },
    "risk": {
        "en": "**Risk tier: {tier}**, because {reasons}.",
        "zh": "**风险等级：{tier}**，原因：{reasons}。",
    },
    # The tier's advice, to a clinician or a student (they said so): addressed to their patient.
    "for_the_patient": {"en": "**For the patient:** ", "zh": "**对患者的建议**："},
    # A later answer in the thread whose tier and reasons are the ones already given: not repeated word for word.
    "risk_again": {
        "en": "**Risk tier: {tier}**, for the reasons given earlier in this conversation (unchanged).",
        "zh": "**风险等级：{tier}**，原因同前面的回答（没有变化）。",
    },
    "reason_class_mel": {"en": "melanoma is the most likely class", "zh": "最可能的类别是黑色素瘤"},
    "reason_class_bcc": {"en": "basal cell carcinoma is the most likely class", "zh": "最可能的类别是基底细胞癌"},
    "reason_class_akiec": {"en": "actinic keratosis / intraepithelial carcinoma is the most likely class",
                           "zh": "最可能的类别是光化性角化病/上皮内癌"},
    "reason_class_benign": {
        "en": "a benign class is the most likely and neither the melanoma probability ({p_mel}) nor that of any malignant or pre-malignant class ({p_mal}) reaches its cut-off",
        "zh": "最可能的是良性类别，且黑色素瘤概率（{p_mel}）和恶性或癌前病变的合计概率（{p_mal}）均未达到各自的阈值",
    },
    "reason_mel_threshold": {
        "en": "the melanoma probability, {p_mel}, is at or above the cut-off ({t_mel}) chosen on validation images so that {sens} of melanomas are referred",
        "zh": "黑色素瘤概率{p_mel}达到或超过在验证图像上选定的阈值（{t_mel}，可使{sens}的黑色素瘤被转诊）",
    },
    "reason_malignant_threshold": {
        "en": "the probability of a malignant or pre-malignant class (actinic keratosis/intraepithelial carcinoma, basal cell carcinoma or melanoma), {p_mal}, is at or above its cut-off ({t_mal})",
        "zh": "恶性或癌前病变类别（光化性角化病/上皮内癌、基底细胞癌或黑色素瘤）的合计概率{p_mal}达到或超过其阈值（{t_mal}）",
    },
    "reason_image_alone": {"en": " from the image alone ({shown} with the age, sex or site given)",
                           "zh": "（仅根据图像；结合所提供的年龄、性别或部位为{shown}）"},
    "reason_abstained": {"en": "the estimate is uncertain, and uncertainty must not reassure", "zh": "估计不确定，而不确定不能作为放心的理由"},
    "reason_checklist": {
        "en": "the measured features ({criteria}) score {score} on a checklist-style score (not validated), at or above its cut-off of {cut}",
        "zh": "测量到的特征（{criteria}）在清单式评分（未经验证）中得{score}分，达到或超过阈值{cut}",
    },
    "reason_history": {"en": "you reported that {signs}", "zh": "您提到{signs}"},
    "reason_nice_7point": {
        "en": "what you reported and the measured shape and colour reach {n} points on the NICE weighted 7-point checklist (3 or more: urgent referral)",
        "zh": "您提供的情况加上测量到的形状和颜色，在 NICE 加权七点清单中达到{n}分（3分及以上：紧急转诊）",
    },
    "reason_efg": {
        "en": "raised, firm and growing are the EFG signs of nodular melanoma",
        "zh": "隆起、质硬且在长大，是结节性黑色素瘤的 EFG 征象",
    },
    "reason_sep": {"en": "; ", "zh": "；"},
    "pushback_malignant": {
        "en": "I cannot confirm or rule out a cancer from an image, and insisting does not change the estimate: only an examination by a dermatologist, with histopathology where needed, can settle it.",
        "zh": "我无法仅凭图像确认或排除癌症，坚持己见也不会改变估计：只有皮肤科医生的检查（必要时结合组织病理学）才能确定。",
    },
    "cite_prediction": {"en": "Classifier output ({backend} backend, calibrated)", "zh": "分类器输出（{backend}，已校准）"},
    "cite_features": {"en": "Measured lesion features (segmentation)", "zh": "病变测量特征（分割）"},
    "cite_case": {"en": "{image_id}: {dx} ({confirm})", "zh": "{image_id}：{dx}（{confirm}）"},
    "sources": {"en": "Sources", "zh": "来源"},
    "follow_up_hint": {"en": "thread {thread} · follow up with: {command}", "zh": "会话 {thread} · 继续提问：{command}"},
    "pushback_no_change": {
        "en": "Without a new image or a clinician's examination, nothing said in this conversation changes this estimate or its tier.",
        "zh": "在没有新图像或医生检查的情况下，对话中的任何说法都不会改变本次估计及其风险等级。",
    },
    "delay_referral": {
        "en": "**Please do not skip or put off this examination.** For this tier the timeframe below is the advice; waiting to see whether it changes is no substitute, because a photograph cannot rule out a skin cancer. If the timing is hard (travel, work, exams), be seen before you go, or book a dermatologist where you will be and take this report with you.",
        "zh": "**请不要放弃或推迟这次检查。** 对于这个风险等级，下面给出的时间就是建议；仅凭照片无法排除皮肤癌，等着看它会不会变化不能代替检查。如果时间上有困难（出差、旅行、工作、考试），请在出发前就诊，或在您将要所在的地方预约皮肤科，并带上这份报告。",
    },
    "delay_low": {
        "en": "**This estimate does not on its own ask you to book an appointment, but it cannot tell you that skipping one is safe.**",
        "zh": "**本次估计本身并不要求您预约就诊，但它也不能告诉您不去看医生是安全的。**",
    },
    "cost": {
        "en": "I cannot tell you what an examination or a biopsy costs: that depends on the country, the health system and your insurance, and the clinic or your insurer can say. Whether a biopsy is needed is the examining doctor's decision, made after looking at the lesion.",
        "zh": "我无法告诉您检查或活检的费用：这取决于所在国家或地区、医疗体系和您的医保，诊所或保险机构可以告诉您。是否需要活检，由检查的医生在看过病变后决定。",
    },
    "outside_classes": {
        "en": "This tool cannot tell you whether it is {names}: it only tells apart seven kinds of skin lesion seen through a dermatoscope ({classes}), so its estimate always names one of those seven. A doctor who examines the skin can tell whether it is something else.",
        "zh": "本工具无法判断它是不是{names}：它只能区分皮肤镜下的七类皮肤病变（{classes}），因此它的估计总是这七类之一。医生检查皮肤后才能判断是否为其他疾病。",
    },
    "not_benign_referral": {
        "en": "**I cannot tell you it is harmless:** this estimate gives {p_mal} to malignant or pre-malignant classes, and its tier, '{tier}', sends you to a clinician. Without a new image or a clinician's examination, nothing said in this conversation changes that.",
        "zh": "**我不能告诉您它是无害的**：本次估计给恶性或癌前病变的合计概率为{p_mal}，其风险等级“{tier}”需要您去看医生。在没有新图像或医生检查的情况下，对话中的任何说法都不会改变这一点。",
    },
    "checklist_near": {
        "en": "The measured features ({criteria}) score {score} on the checklist-style score, one point under the cut-off of {cut} at which this tool raises the tier: these are features a dermatologist looks at, so showing the lesion to a doctor is reasonable even if nothing has changed.",
        "zh": "测量到的特征（{criteria}）在清单式评分中得{score}分，只比本工具提高风险等级的阈值（{cut}分）低1分：这些正是皮肤科医生会查看的特征，因此即使病变没有变化，请医生看一看也是合理的。",
    },
    "features": {
        "en": "**Measured on the image:** {statements}.",
        "zh": "**图像测量结果**：{statements}。",
    },
    "features_none": {
        "en": "The lesion could not be delineated on this image ({reason}), so no shape or colour measurements are given.",
        "zh": "无法在这张图像上勾画出病变（{reason}），因此不提供形状或颜色测量。",
    },
    "case_line": {
        "en": "{image_id}{rank}: {dx}, confirmed by {confirm}; {who}, {site}.",
        "zh": "{image_id}{rank}：{dx}，经{confirm}确诊；{who}，{site}。",
    },
    "case_rank": {"en": " (similar lesion #{rank})", "zh": "（相似病变第{rank}位）"},
    "cases_empty": {
        "en": "No confirmed cases in the reference set match these filters{filters}.",
        "zh": "参考病例库中没有符合这些筛选条件{filters}的确诊病例。",
    },
    "cases_page": {
        "en": "**More similar confirmed cases{filters}** (results {start}-{end}):",
        "zh": "**更多相似的确诊病例{filters}**（第{start}-{end}个）：",
    },
    "knowledge_lead": {"en": "**Background:** {text}", "zh": "**背景知识**：{text}"},
    "followup_lead": {"en": "**About this lesion:**", "zh": "**关于这个病变**："},
    "knowledge_more": {"en": "{text}", "zh": "{text}"},
    "knowledge_missing": {
        "en": "I could not find this in the knowledge base; please ask a dermatologist.",
        "zh": "知识库中没有找到相关内容；请咨询皮肤科医生。",
    },
    "result_correction": {
        "en": "**To be clear about the result:** the most likely class in this estimate is {c1} ({p1}), not {cx} ({px}).",
        "zh": "**关于结果，需要说明**：本次估计中最可能的类别是{c1}（{p1}），而不是{cx}（{px}）。",
    },
    "differential_compare": {
        "en": "**{cx} vs {c1}:** the classifier gives {cx} {px}, against {p1} for {c1}.",
        "zh": "**{cx}与{c1}的比较**：分类器给{cx}的概率为{px}，而{c1}为{p1}。",
    },
    "differential_top": {
        "en": "**{cx}:** it is in fact the most likely class here, at {px}.",
        "zh": "**{cx}**：它实际上就是这里最可能的类别，概率为{px}。",
    },
    "differential_cases": {
        "en": "The {n} most similar confirmed cases were {mix}.",
        "zh": "最相似的{n}个确诊病例为：{mix}。",
    },
    "cases_mix": {
        "en": "**Similar confirmed cases{filters}:** the {n} most similar were {mix}; {histo} of the {n} were confirmed by histopathology.",
        "zh": "**相似的确诊病例{filters}**：最相似的{n}个病例为{mix}；其中{histo}个经组织病理学确诊。",
    },
    "mix_item": {"en": "{dx} ({n})", "zh": "{dx}{n}例"},
    "mix_sep": {"en": ", ", "zh": "、"},
    "mix_and": {"en": " and ", "zh": "和"},
    "criteria_against": {
        "en": "**Against {cx}:** {cx} is typically {typical}; this lesion measured {measured}.",
        "zh": "**不支持{cx}之处**：{cx}通常{typical}；而这个病变测得{measured}。",
    },
    "criteria_for": {
        "en": "**In keeping with {cx}:** {cx} is typically {typical}; this lesion measured {measured}.",
        "zh": "**与{cx}相符之处**：{cx}通常{typical}；这个病变测得{measured}。",
    },
    "measured_axes_0": {"en": "symmetry about both axes", "zh": "沿两条轴均对称"},
    "measured_axes_1": {"en": "asymmetry along 1 of 2 axes", "zh": "沿一条轴不对称"},
    "measured_axes_2": {"en": "asymmetry along both axes", "zh": "沿两条轴均不对称"},
    "measured_abrupt": {"en": "an abrupt edge on {n} of 8 border segments", "zh": "8个边界段中有{n}段边缘截然中断"},
    "measured_colours": {"en": "{n} colours ({colours})", "zh": "{n}种颜色（{colours}）"},
    "structures": {
        "en": "**What a dermatologist looks for:** {items}.",
        "zh": "**皮肤科医生会看什么**：{items}。",
    },
    "structures_item": {"en": "for {cx}, {structures}", "zh": "{cx}看{structures}"},
    "tool_cannot_see": {
        "en": "This tool measures the outline's asymmetry and border and the colours, but not fine structures such as the pigment network, dots, streaks or vessels: a dermatologist examines those directly with a dermatoscope.",
        "zh": "本工具只能测量轮廓的对称性、边界和颜色，无法识别色素网、点、条纹或血管等细微结构：这些需要皮肤科医生用皮肤镜直接检查。",
    },
    "pushback": {
        "en": "I understand you would like it to be {claim}. Without new evidence, such as a new image or a clinician's examination, the estimate does not change: {c1} remains the most likely class at {p1}.",
        "zh": "我理解您希望它是{claim}。但在没有新证据（例如新的图像或医生的检查）的情况下，估计不会改变：最可能的类别仍是{c1}（{p1}）。",
    },
    "pushback_confirm": {
        "en": "Only an examination by a dermatologist, with histopathology where needed, can settle what this lesion is.",
        "zh": "只有皮肤科医生的检查（必要时结合组织病理学）才能确定这是什么病变。",
    },
    "claim_benign": {"en": "benign", "zh": "良性的"},
    "claim_malignant": {"en": "malignant", "zh": "恶性的"},
    "claim_other": {"en": "something else", "zh": "别的情况"},
    "need_image": {
        "en": "Please upload a dermoscopy image first; I can only discuss a lesion I have seen.",
        "zh": "请先上传一张皮肤镜图像；我只能讨论我看到过的病变。",
    },
    "refused": {
        "en": "**I will not estimate a diagnosis for this image:** {reason}.",
        "zh": "**我不会对这张图像给出估计**：{reason}。",
    },
    "refused_hint": {
        "en": "Upload a dermoscopy photograph: the lesion centred and in focus, taken through a dermatoscope in contact with or close to the skin, evenly lit.",
        "zh": "请上传皮肤镜照片：病变居中、对焦清晰，通过皮肤镜贴近皮肤拍摄，光照均匀。",
    },
    "abstain_advice": {
        "en": "Because the estimate is uncertain, it should not reassure you: if the lesion is new, changing or symptomatic, have it examined.",
        "zh": "由于估计不确定，不应据此放心：如果病变是新出现的、在变化或有症状，请就医检查。",
    },
    "disclaimer": {lang: f"_{text}_" for lang, text in DISCLAIMER.items()},
    "general_note": {
        "en": "_General information from the knowledge base, not medical advice._",
        "zh": "_以上为知识库中的一般信息，并非医疗建议。_",
    },
    "filters_prefix": {"en": " ({items})", "zh": "（{items}）"},
    "who": {"en": "{age} {sex}", "zh": "{age}{sex}"},
    "age_years": {"en": "{age:g}-year-old", "zh": "{age:g}岁"},
    "age_unknown": {"en": "age unknown", "zh": "年龄不详"},
    "list_sep": {"en": "; ", "zh": "；"},
    "list_comma": {"en": ", ", "zh": "、"},
    "list_or": {"en": " or ", "zh": "或"},
    "list_and": {"en": " and ", "zh": "，且"},
}


def render(key: str, lang: Language, **values: object) -> str:
    return T[key][lang].format(**values)


def percent(p: float) -> str:
    return f"{p * 100:.0f}%" if p >= 0.01 else "<1%"


def percents_apart(value: float, cut_off: float) -> tuple[str, str]:
    """A probability and its cut-off as percentages with as many decimals as it takes for them not to read as equal
    ("2.9%, at or above the cut-off (2.7%)", not "3% ... (3%)")."""
    for digits in (0, 1, 2):
        a, b = f"{value * 100:.{digits}f}%", f"{cut_off * 100:.{digits}f}%"
        if a != b or value == cut_off:
            break
    if digits == 0 and value < 0.01:
        a = percent(value)  # "<1%", as everywhere else
    return a, b


# The classifier backends as a reader sees them in the sources list (unknown names print as they are).
BACKEND_NAMES: dict[str, dict[str, str]] = {
    "ensemble": {"en": "ensemble", "zh": "集成模型"},
    "encoder": {"en": "encoder", "zh": "单一编码器"},
    "qwen2vl": {"en": "Qwen2-VL", "zh": "Qwen2-VL 模型"},
}


def backend_name(backend: str, lang: str) -> str:
    return BACKEND_NAMES.get(backend, {}).get(lang, backend)
