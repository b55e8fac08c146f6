# core/llm.mk: the LLM layer (issue 6): core/llm*.c and core/sse.c in the
# kernel library, `sutra llm`, the `llm` plugin agent of the shipped
# catalog, its tests, benchmark and man page.
libsutracore_la_SOURCES += \
	core/sse.c core/sse.h \
	core/llm.c core/llm.h core/llm_impl.h \
	core/llm_config.c \
	core/llm_request.c \
	core/llm_result.c \
	core/llm_openai.c \
	core/llm_anthropic.c \
	core/llm_http.c \
	core/llm_store.c

sutra_SOURCES += core/cmd_llm.c
