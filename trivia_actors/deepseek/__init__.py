"""DeepSeek: judging typed answers and generating questions, behind a small chat-client port."""

from trivia_actors.deepseek.actor import DeepSeekPool, DeepSeekTuning
from trivia_actors.deepseek.generation import (
    clean_topic,
    dedupe,
    existing_hashes,
    recent_texts,
    store_questions,
    stored_for_topic,
    topic_category,
)
from trivia_actors.deepseek.judging import JUDGE_SYSTEM_PROMPT, BadReply, judge_request, parse_verdict
from trivia_actors.deepseek.messages import AnswerJudged, GenerateQuestions, JudgeAnswer, QuestionsGenerated
from trivia_actors.deepseek.metrics import GENERATED
from trivia_actors.deepseek.ports import ChatClient, ChatError, ChatReply, ChatRequest
from trivia_actors.deepseek.resilience import RetryPolicy

__all__ = [
    "GENERATED",
    "JUDGE_SYSTEM_PROMPT",
    "AnswerJudged",
    "BadReply",
    "ChatClient",
    "ChatError",
    "ChatReply",
    "ChatRequest",
    "DeepSeekPool",
    "DeepSeekTuning",
    "GenerateQuestions",
    "JudgeAnswer",
    "QuestionsGenerated",
    "RetryPolicy",
    "clean_topic",
    "dedupe",
    "existing_hashes",
    "judge_request",
    "parse_verdict",
    "recent_texts",
    "store_questions",
    "stored_for_topic",
    "topic_category",
]
