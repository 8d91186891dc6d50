"""Every string the app shows, in English and Chinese.

Class, confirmation, body-site and risk-tier names are not here: they come from
``knowledge.taxonomy`` and ``agents.risk``. Answers come from the graph in the chosen language.
"""

from __future__ import annotations

from knowledge.advice import disclaimer
from knowledge.taxonomy import Language

LANGUAGES: tuple[tuple[str, str], ...] = (("English", "en"), ("中文", "zh"))

UI: dict[str, dict[str, str]] = {
    "title": {"en": "dermagraph", "zh": "dermagraph 皮肤镜辅助决策"},
    "subtitle": {
        "en": "Upload or paste a dermoscopy image and ask about it, in English or Chinese.",
        "zh": "上传或粘贴一张皮肤镜图像，用中文或英文提问。",
    },
    "disclaimer_data": {
        "en": "Its estimates come from a public dataset (HAM10000) and can be wrong.",
        "zh": "其估计来自公开数据集（HAM10000），可能有误。",
    },
    "new_consultation": {"en": "＋ New consultation", "zh": "＋ 新的咨询"},
    "chat": {"en": "Consultation", "zh": "咨询"},
    "input_placeholder": {
        "en": "Attach a dermoscopy image (or paste one) and ask, e.g. “What is this lesion?” or “为什么不是黑色素瘤？”",
        "zh": "附上（或粘贴）一张皮肤镜图像并提问，例如“这是什么病变？”或 “why not melanoma?”",
    },
    "mel_not_excluded": {"en": "Melanoma cannot be excluded", "zh": "不能排除黑色素瘤"},
    "risk_because": {"en": "Why: {reasons}.", "zh": "原因：{reasons}。"},
    "patient_details": {"en": "Patient details (optional: they can only raise the risk tier)", "zh": "患者信息（可选：只会提高风险等级）"},
    "patient_age": {"en": "Age (years)", "zh": "年龄（岁）"},
    "patient_sex": {"en": "Sex", "zh": "性别"},
    "patient_site": {"en": "Body site", "zh": "部位"},
    "patient_history": {"en": "History of the lesion", "zh": "病变情况"},
    "history_placeholder": {"en": "e.g. new, grew over 3 months, bled, itches", "zh": "例如：新长的、三个月内变大、出血、瘙痒"},
    "not_given": {"en": "not given", "zh": "未提供"},
    "examples": {"en": "Example images from the HAM10000 test split", "zh": "示例图像（HAM10000 测试集）"},
    "example_question": {"en": "What is this lesion?", "zh": "这是什么病变？"},
    "thread_images": {"en": "Images in this consultation (click one to ask about it again)",
                      "zh": "本次会诊中的图像（点击一张可再次就它提问）"},
    "about_this_image": {"en": "What about this image?", "zh": "这张图像呢？"},
    "assessment": {"en": "### Estimate (not a diagnosis)", "zh": "### 估计（并非诊断）"},
    "features": {"en": "### Measured features", "zh": "### 测量特征"},
    "features_image": {"en": "Lesion outline (segmentation)", "zh": "病变轮廓（分割）"},
    "layer_pick": {"en": "Show on the image", "zh": "图像上显示"},
    "layer_outline": {"en": "outline", "zh": "轮廓"},
    "layer_heat": {"en": "heat map: {name}", "zh": "热图：{name}"},
    "measured_values": {"en": "Measured values", "zh": "测量数值"},
    "sources": {"en": "### Sources", "zh": "### 来源"},
    "sources_pick": {"en": "Cited in the last answer: choose one to read it", "zh": "上一条回答引用的来源：选择一项查看"},
    "source_image": {"en": "Cited case", "zh": "引用的病例"},
    "cases": {"en": "### Similar confirmed cases", "zh": "### 相似的确诊病例"},
    "cases_gallery": {"en": "Similar cases (click one)", "zh": "相似病例（点击查看）"},
    "case_image": {"en": "Case", "zh": "病例"},
    "any": {"en": "any", "zh": "不限"},
    "filter_dx": {"en": "Diagnosis", "zh": "诊断"},
    "filter_dx_type": {"en": "Confirmed by", "zh": "确诊方式"},
    "filter_sex": {"en": "Sex", "zh": "性别"},
    "filter_site": {"en": "Body site", "zh": "部位"},
    "age_min": {"en": "Age from", "zh": "最小年龄"},
    "age_max": {"en": "Age to", "zh": "最大年龄"},
    "search_text": {"en": "Search cases by text", "zh": "按文字搜索病例"},
    "search_placeholder": {
        "en": "e.g. blue-white veil, irregular streaks (empty: search by your image)",
        "zh": "例如：蓝白幕、不规则条纹（留空：按您的图像搜索）",
    },
    "search_button": {"en": "Search", "zh": "搜索"},
    # messages inside panels and the chat
    "analysing": {"en": "Looking at the image and the question…", "zh": "正在分析图像与问题……"},
    "empty_input": {"en": "Type a question or attach an image first.", "zh": "请先输入问题或附上一张图像。"},
    "too_long": {"en": "Your message is {n:,} characters long; the limit is {limit:,}. It is still in the box: shorten it "
                       "and send it again.",
                 "zh": "您的消息有 {n:,} 个字符，上限为 {limit:,}。消息仍在输入框中：请缩短后重新发送。"},
    "bad_image": {"en": "This file cannot be used as an image: {reason}", "zh": "无法将此文件用作图像：{reason}"},
    "bad_input": {"en": "This request cannot be answered: {reason}", "zh": "无法回答此请求：{reason}"},
    "service_unavailable": {
        "en": "A server this app needs is not answering: {reason}. Nothing was lost; please try again in a moment.",
        "zh": "本应用依赖的服务器暂时无响应：{reason}。内容未丢失，请稍后重试。",
    },
    "batch": {"en": "Batch: many images at once", "zh": "批量：一次分析多张图像"},
    "batch_help": {
        "en": "Each image is assessed on its own (no conversation): intake check, estimate, tier, measured features. "
              "Download the CSV for every number. Decision support for research and teaching, not a diagnosis.",
        "zh": "每张图像单独评估（不含对话）：图像检查、估计、风险等级、测量特征。下载 CSV 可查看全部数值。"
              "仅供研究和教学的决策支持，并非诊断。",
    },
    "batch_files": {"en": "Images (up to 200)", "zh": "图像（最多 200 张）"},
    "batch_run": {"en": "Assess all", "zh": "全部评估"},
    "batch_csv": {"en": "Results (CSV)", "zh": "结果（CSV）"},
    "batch_none": {"en": "Choose one or more images first.", "zh": "请先选择一张或多张图像。"},
    "batch_too_many": {"en": "{n} images: the app takes up to {limit} at a time (`dermagraph batch FOLDER` has no limit).",
                       "zh": "共 {n} 张图像：应用一次最多处理 {limit} 张（命令行 `dermagraph batch FOLDER` 无此限制）。"},
    "batch_done": {
        "en": "{n} image(s) in {seconds:.0f} s: {referred} with a tier that says to see a doctor, {refused} refused by the "
              "image check, {errors} unreadable. A refused or unreadable image is not a reassurance.",
        "zh": "{n} 张图像，用时 {seconds:.0f} 秒：{referred} 张的风险等级建议就医，{refused} 张未通过图像检查，"
              "{errors} 张无法读取。未通过检查或无法读取并不代表没有问题。",
    },
    "batch_col_file": {"en": "file", "zh": "文件"},
    "batch_col_intake": {"en": "image check", "zh": "图像检查"},
    "batch_col_top": {"en": "most likely", "zh": "最可能"},
    "batch_col_p": {"en": "probability", "zh": "概率"},
    "batch_col_mel": {"en": "melanoma", "zh": "黑色素瘤"},
    "batch_col_tier": {"en": "tier", "zh": "风险等级"},
    "batch_accepted": {"en": "accepted", "zh": "通过"},
    "batch_refused": {"en": "refused", "zh": "未通过"},
    "batch_refused_tier": {"en": "no estimate: have it examined if it worries you",
                           "zh": "无估计：如有担心请就医检查"},
    "report_title": {"en": "dermagraph consultation report", "zh": "dermagraph 会诊报告"},
    "report_meta": {"en": "Date {date} · consultation {thread} · {turns} turn(s)",
                    "zh": "日期 {date} · 会诊 {thread} · 共 {turns} 轮"},
    "report_assessment": {"en": "Image assessment (the last image of the consultation)", "zh": "图像评估（本次会诊的最后一张图像）"},
    "report_image": {"en": "uploaded image", "zh": "上传的图像"},
    "report_heat": {"en": "heat map: {name}", "zh": "热图：{name}"},
    "report_refused": {"en": "The image was refused by the image check ({reason}); no estimate was made. "
                                 "Have any lesion that worries you examined.",
                       "zh": "图像未通过检查（{reason}），因此没有给出估计。如有担心的皮损，请就医检查。"},
    "report_class": {"en": "class", "zh": "类别"},
    "report_probability": {"en": "probability (calibrated)", "zh": "概率（已校准）"},
    "report_abstained": {"en": "The classifier abstained: no class is likely enough to name.",
                         "zh": "分类器放弃判断：没有哪个类别的可能性高到足以给出。"},
    "report_tier": {"en": "Risk tier", "zh": "风险等级"},
    "report_conversation": {"en": "The conversation", "zh": "对话"},
    "report_question": {"en": "Question {n}:", "zh": "问题 {n}："},
    "report_sources": {"en": "Sources cited:", "zh": "引用的来源："},
    "report_versions": {"en": "Model versions", "zh": "模型版本"},
    "report_button": {"en": "Download report (PDF)", "zh": "下载报告（PDF）"},
    "report_none": {"en": "Ask a question first: the report is of a consultation.", "zh": "请先提问：报告针对一次会诊。"},
    "compare": {"en": "Compare two images of one lesion", "zh": "比较同一病变的两张图像"},
    "compare_before": {"en": "Earlier image", "zh": "较早的图像"},
    "compare_after": {"en": "Later image", "zh": "较晚的图像"},
    "compare_run": {"en": "Compare", "zh": "比较"},
    "compare_need": {"en": "Choose both images first.", "zh": "请先选择两张图像。"},
    "compare_refused": {"en": "The {which} image was refused by the image check ({reason}), so the two cannot be compared. "
                                "Have any lesion that worries you examined.",
                        "zh": "{which}未通过图像检查（{reason}），因此无法比较。如有担心的皮损，请就医检查。"},
    "compare_head": {"en": "| | earlier | later | change |", "zh": "| | 较早 | 较晚 | 变化 |"},
    "compare_estimate": {"en": "most likely class", "zh": "最可能的类别"},
    "compare_mel": {"en": "melanoma probability", "zh": "黑色素瘤概率"},
    "compare_tier": {"en": "risk tier", "zh": "风险等级"},
    "compare_worrying": {
        "en": "**Changed toward the melanoma warning signs:** {items}. A lesion that changes should be examined by a "
              "doctor; the later image's tier is the one that counts.",
        "zh": "**朝黑色素瘤警示征象方向的变化**：{items}。发生变化的皮损应由医生检查；以较晚图像的风险等级为准。",
    },
    "compare_stable": {
        "en": "No measured feature changed beyond what two photographs of one lesion differ by. This does not rule out a "
              "change the measurements cannot see; the later image's tier is the one that counts.",
        "zh": "没有测量特征的变化超出同一病变两张照片之间的正常差异。这并不排除测量无法发现的变化；以较晚图像的风险等级为准。",
    },
    "compare_caveat": {
        "en": "Two photographs differ in zoom, angle, pressure and light as well as in the lesion; sizes are relative to "
              "each image (no scale without a ruler). Decision support, not a diagnosis.",
        "zh": "两张照片在放大倍数、角度、压力和光线上也会不同；大小是相对于各自图像的（没有标尺就没有实际尺寸）。仅供决策支持，并非诊断。",
    },
    "internal_error": {
        "en": "Something went wrong while answering ({kind}); nothing was lost, please try again.",
        "zh": "回答时出错（{kind}）；内容未丢失，请重试。",
    },
    "image_turn": {"en": "🖼️ (image)", "zh": "🖼️（图像）"},
    "no_assessment": {"en": "Upload an image to see the class probabilities.", "zh": "上传图像后在此显示各类别概率。"},
    "refused": {"en": "The image was not assessed: {reason}", "zh": "图像未被评估：{reason}"},
    "abstained": {
        "en": "The classifier is not confident on this image: read the estimate with care.",
        "zh": "分类器对这张图像没有把握：请谨慎看待此估计。",
    },
    "top3": {"en": "top 3 in bold", "zh": "粗体为前三"},
    "risk": {"en": "Risk tier", "zh": "风险等级"},
    "malignancy": {
        "en": "malignant or pre-malignant classes together: {p}",
        "zh": "恶性或癌前病变类别合计：{p}",
    },
    "backend": {"en": "classifier: {backend}, calibrated on the validation split", "zh": "分类器：{backend}，已在验证集上校准"},
    "no_features": {"en": "Measured features appear here after an image is assessed.", "zh": "图像评估后在此显示测量特征。"},
    "not_delineated": {"en": "The lesion could not be delineated: {reason}", "zh": "无法勾画出病变：{reason}"},
    "no_cases": {"en": "No case matches these filters.", "zh": "没有符合这些筛选条件的病例。"},
    "cases_hint": {
        "en": "Similar cases appear here after an image is assessed, or search them by text.",
        "zh": "图像评估后在此显示相似病例，也可按文字搜索。",
    },
    "cases_for_image": {"en": "The {n} lesions most similar to your image{filters}, one image each: {mix}.",
                        "zh": "与您的图像最相似的 {n} 个病变{filters}（每个病变一张图像）：{mix}。"},
    "cases_for_text": {"en": "The {n} lesions most similar to “{text}”{filters}, one image each: {mix}.",
                       "zh": "与“{text}”最相似的 {n} 个病变{filters}（每个病变一张图像）：{mix}。"},
    "filters_on": {"en": " (filtered: {items})", "zh": "（筛选：{items}）"},
    "need_query": {"en": "Upload an image or type a description to search cases.", "zh": "请上传图像或输入描述以搜索病例。"},
    "pick_case": {"en": "Click a case to see it here.", "zh": "点击一个病例在此查看。"},
    "no_sources": {"en": "The sources of the last answer are listed here.", "zh": "此处列出上一条回答的来源。"},
    "source_gone": {
        "en": "That source belongs to an earlier answer whose sources are no longer loaded; ask again to see them.",
        "zh": "该来源属于之前的回答，其来源已不在当前会话中；请重新提问以查看。",
    },
    # case and passage details
    "case_title": {"en": "**{image_id}**: {dx}", "zh": "**{image_id}**：{dx}"},
    "case_confirmed": {"en": "Confirmed by: {confirm}", "zh": "确诊方式：{confirm}"},
    "case_who": {"en": "Age {age} · {sex} · {site}", "zh": "年龄 {age} · {sex} · {site}"},
    "case_similarity": {
        "en": "Similar lesion #{rank} for this search (cosine similarity {sim:.2f}; close dermoscopy images all score "
              "near 1, so the rank and the diagnosis mix say more than the number)",
        "zh": "本次搜索的相似病变第 {rank} 位（余弦相似度 {sim:.2f}；相近的皮肤镜图像得分都接近 1，"
              "因此排名和诊断构成比这个数字更有意义）",
    },
    "case_lesion": {"en": "Lesion {lesion_id} · HAM10000 (CC BY-NC 4.0)", "zh": "病变 {lesion_id} · HAM10000（CC BY-NC 4.0）"},
    "age_unknown": {"en": "unknown", "zh": "未知"},
    "references": {"en": "References", "zh": "参考文献"},
    "passage_from": {"en": "From the dermagraph knowledge corpus, document `{doc_id}`.", "zh": "出自 dermagraph 知识库文档 `{doc_id}`。"},
    "prediction_title": {"en": "Classifier output (calibrated probabilities)", "zh": "分类器输出（校准概率）"},
    "features_title": {"en": "Measured lesion features (segmentation)", "zh": "病变测量特征（分割）"},
    "prediction_source": {
        "en": "The classifier's calibrated probabilities for the current image (see the estimate panel).",
        "zh": "分类器对当前图像的校准概率（见估计面板）。",
    },
    "features_source": {
        "en": "Measured on the segmented lesion of the current image (see the measured-features panel).",
        "zh": "在当前图像分割出的病变上测得（见测量特征面板）。",
    },
}


def disclaimer_banner(lang: Language = "en") -> str:
    """The always-visible disclaimer: the project's one disclaimer (``knowledge.advice``) and where estimates come from."""
    return f"⚠️ **{disclaimer(lang)}** {t('disclaimer_data', lang)}"


def t(key: str, lang: Language = "en", **values: object) -> str:
    text = UI[key]["zh" if lang == "zh" else "en"]
    return text.format(**values) if values else text


def language_of(value: str | None) -> Language:
    """The interface language from the toggle's value; anything unexpected reads as English."""
    return "zh" if value == "zh" else "en"
