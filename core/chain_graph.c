/* chain_graph.c - drawing chains as Graphviz dot or Mermaid (chain.h). */
#include "chain.h"

#include <stdlib.h>
#include <string.h>

/* The two output formats, as tables of operations. */
struct graph_format {
	const char *name;
	void (*begin)(FILE *out, const struct chain *c);
	void (*node)(FILE *out, const char *id, const char *label,
		     const char *shape);
	void (*edge)(FILE *out, const char *from, const char *to,
		     const char *label, int back);
	void (*end)(FILE *out);
};

/* Writes s with the characters that would break a label escaped. */
static void put_escaped(FILE *out, const char *s, int mermaid)
{
	for (; *s; s++) {
		if (*s == '"')
			fputs(mermaid ? "#quot;" : "\\\"", out);
		else if (*s == '\n')
			fputs(mermaid ? "<br/>" : "\\n", out);
		else if (mermaid && (*s == '|' || *s == '<' || *s == '>'))
			fprintf(out, "#%d;", *s);
		else
			fputc(*s, out);
	}
}

static void dot_begin(FILE *out, const struct chain *c)
{
	fputs("digraph \"", out);
	put_escaped(out, c->name, 0);
	fputs("\" {\n  rankdir=TB;\n  node [shape=box, style=rounded, "
	      "fontname=\"Helvetica\"];\n  __start [shape=circle, label=\"\", "
	      "width=0.2];\n  __end [shape=doublecircle, label=\"\", "
	      "width=0.2];\n", out);
}

static void dot_node(FILE *out, const char *id, const char *label,
		     const char *shape)
{
	fprintf(out, "  \"%s\" [label=\"", id);
	put_escaped(out, label, 0);
	fprintf(out, "\"%s%s];\n", shape ? ", shape=" : "", shape ? shape : "");
}

static void dot_edge(FILE *out, const char *from, const char *to,
		     const char *label, int back)
{
	fprintf(out, "  \"%s\" -> \"%s\"", from, to);
	if (label || back) {
		fputs(" [", out);
		if (label) {
			fputs("label=\"", out);
			put_escaped(out, label, 0);
			fputc('"', out);
		}
		if (back)
			fprintf(out, "%sstyle=dashed, constraint=false",
				label ? ", " : "");
		fputc(']', out);
	}
	fputs(";\n", out);
}

static void dot_end(FILE *out)
{
	fputs("}\n", out);
}

static void mermaid_begin(FILE *out, const struct chain *c)
{
	fputs("flowchart TD\n  __start((start))\n  __end((end))\n", out);
	(void)c;
}

static void mermaid_node(FILE *out, const char *id, const char *label,
			 const char *shape)
{
	int diamond = shape && strcmp(shape, "diamond") == 0;

	fprintf(out, "  %s%s\"", id, diamond ? "{" : "[");
	put_escaped(out, label, 1);
	fprintf(out, "\"%s\n", diamond ? "}" : "]");
}

static void mermaid_edge(FILE *out, const char *from, const char *to,
			 const char *label, int back)
{
	fprintf(out, "  %s %s", from, back ? "-.->" : "-->");
	if (label) {
		fputc('|', out);
		put_escaped(out, label, 1);
		fputc('|', out);
	}
	fprintf(out, " %s\n", to);
}

static void mermaid_end(FILE *out)
{
	(void)out;
}

static const struct graph_format formats[] = {
	{"dot", dot_begin, dot_node, dot_edge, dot_end},
	{"mermaid", mermaid_begin, mermaid_node, mermaid_edge, mermaid_end},
};

/* A set of node ids that lead into the next step. */
struct ends {
	const char **ids;
	int n;
};

struct drawer {
	const struct graph_format *f;
	FILE *out;
};

static void ends_add(struct ends *e, const char *id)
{
	const char **n = realloc(e->ids, sizeof(*n) * (size_t)(e->n + 1));

	if (n) {
		e->ids = n;
		e->ids[e->n++] = id;
	}
}

static void connect(struct drawer *d, const struct ends *from, const char *to,
		    const char *label)
{
	for (int i = 0; i < from->n; i++)
		d->f->edge(d->out, from->ids[i], to, label, 0);
}

static struct ends draw_list(struct drawer *d, const struct step_list *l,
			     struct ends preds, const char *label);

static void step_label(const struct step *s, char *buf, size_t n)
{
	switch (s->kind) {
	case STEP_AGENT:
		snprintf(buf, n, "%s\nagent: %s", s->id, s->agent_name);
		break;
	case STEP_MAP:
		snprintf(buf, n, "%s\nmap%s%s", s->id, s->agent_name ? ": " : "",
			 s->agent_name ? s->agent_name : "");
		break;
	case STEP_CHAIN:
		snprintf(buf, n, "%s\nchain: %s", s->id,
			 s->chain_path ? s->chain_path : "?");
		break;
	case STEP_LOOP:
		snprintf(buf, n, "%s\nloop", s->id);
		break;
	case STEP_ASK:
		snprintf(buf, n, "%s\nask", s->id);
		break;
	default:
		snprintf(buf, n, "%s\n%s", s->id, step_kind_name(s->kind));
		break;
	}
}

static const char *shape_of(const struct step *s)
{
	switch (s->kind) {
	case STEP_SWITCH:
	case STEP_PARALLEL:
		return "diamond";
	case STEP_ASK:
		return "parallelogram";
	case STEP_LOOP:
	case STEP_MAP:
		return "hexagon";
	default:
		return NULL;
	}
}

/* Draws s entered from preds; returns the nodes that lead on. */
static struct ends draw_step(struct drawer *d, const struct step *s,
			     struct ends preds, const char *label)
{
	char text[512];
	struct ends out = {0}, one = {0};

	step_label(s, text, sizeof(text));
	d->f->node(d->out, s->id, text, shape_of(s));
	connect(d, &preds, s->id,
		s->if_expr ? s->if_expr->source : label);
	ends_add(&one, s->id);
	switch (s->kind) {
	case STEP_PARALLEL:
		for (int i = 0; i < s->steps.n; i++) {
			struct ends b = draw_step(d, s->steps.items[i], one, NULL);
			for (int j = 0; j < b.n; j++)
				ends_add(&out, b.ids[j]);
			free(b.ids);
		}
		break;
	case STEP_LOOP: {
		struct ends body = draw_list(d, &s->steps, one, NULL);
		for (int i = 0; i < body.n; i++)
			d->f->edge(d->out, body.ids[i], s->id,
				   s->until ? "until not" : "repeat", 1);
		free(body.ids);
		ends_add(&out, s->id);
		break;
	}
	case STEP_MAP:
		if (s->steps.n) {
			out = draw_list(d, &s->steps, one, "each item");
			break;
		}
		ends_add(&out, s->id);
		break;
	case STEP_SWITCH: {
		int has_else = 0;
		for (int i = 0; i < s->n_cases; i++) {
			const struct switch_case *c = &s->cases[i];
			has_else |= !c->when;
			struct ends b = draw_list(d, &c->steps, one,
						  c->when ? c->when->source : "else");
			for (int j = 0; j < b.n; j++)
				ends_add(&out, b.ids[j]);
			free(b.ids);
		}
		if (!has_else)
			ends_add(&out, s->id);
		break;
	}
	default:
		ends_add(&out, s->id);
		break;
	}
	free(one.ids);
	return out;
}

static struct ends draw_list(struct drawer *d, const struct step_list *l,
			     struct ends preds, const char *label)
{
	struct ends cur = {0};

	for (int i = 0; i < preds.n; i++)
		ends_add(&cur, preds.ids[i]);
	for (int i = 0; i < l->n; i++) {
		struct ends next = draw_step(d, l->items[i], cur, i ? NULL : label);
		free(cur.ids);
		cur = next;
	}
	return cur;
}

int chain_graph(const struct chain *c, const char *format, FILE *out,
		struct sutra_err *err)
{
	struct drawer d = {.out = out};
	struct ends start = {0}, last;

	for (size_t i = 0; i < sizeof(formats) / sizeof(*formats); i++)
		if (strcmp(formats[i].name, format) == 0)
			d.f = &formats[i];
	if (!d.f)
		return err_set(err, SUTRA_EUSAGE,
			       "unknown graph format '%s' (dot or mermaid)", format);
	d.f->begin(out, c);
	ends_add(&start, "__start");
	last = draw_list(&d, &c->steps, start, NULL);
	connect(&d, &last, "__end", NULL);
	d.f->end(out);
	free(start.ids);
	free(last.ids);
	return 0;
}
