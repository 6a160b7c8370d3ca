/**
 * The three email templates, rendered as plain text and HTML.
 *
 * Every value in the context comes from Firestore documents, run logs or
 * operators, so every one of them is HTML-escaped in the HTML part and
 * stripped of line breaks in the subject (a header).
 */
import type { EmailContext, EmailTemplate } from "../../schemas/email.ts"

export interface RenderedEmail {
  readonly subject: string
  readonly text: string
  readonly html: string
}

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;"
}

export const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c)

/** A header must stay one line: control characters (CR, LF, …) become spaces. */
const oneLine = (value: string): string =>
  value
    .replace(/[\u0000-\u001f\u007f]+/g, " ")
    .replace(/\s+/g, " ")
    .trim()

/** The dashboard's drawer for one document: `<dashboardUrl>/#/doc/<docId>`. */
export const docLink = (dashboardUrl: string, docId: string): string =>
  `${dashboardUrl.replace(/\/+$/, "")}/#/doc/${encodeURIComponent(docId)}`

const patientLabel = (ctx: EmailContext): string =>
  ctx.patientName !== undefined && ctx.patientName !== "" ? `${ctx.patientName} (${ctx.patientId})` : ctx.patientId

interface TemplateText {
  readonly subject: string
  readonly heading: string
  /** Paragraphs, plain text. */
  readonly intro: ReadonlyArray<string>
}

const templateText = (template: EmailTemplate, ctx: EmailContext): TemplateText => {
  const patient = patientLabel(ctx)
  switch (template) {
    case "upload_reminder":
      return {
        subject: `[Lomi] Upload reminder: ${ctx.service} order ${ctx.docId}, patient ${patient}`,
        heading: `Upload reminder: ${ctx.service}`,
        intro: [
          `A new ${ctx.service} order has arrived and is waiting for its lab data.`,
          "The pipeline starts automatically when the cooldown ends; please make sure the lab data for this patient is uploaded before then."
        ]
      }
    case "permanent_failure":
      return {
        subject: `[Lomi] Permanent failure: ${ctx.service} order ${ctx.docId}, patient ${patient}`,
        heading: `Permanent failure: ${ctx.service}`,
        intro: [
          `The ${ctx.service} pipeline for this order has failed and will not be retried automatically.`,
          "It needs a human: check the log below and the run drawer on the dashboard, then retry from there."
        ]
      }
    case "manual_add":
      return {
        subject: `[Lomi] Manual add: please upload ${ctx.service} data for order ${ctx.docId}, patient ${patient}`,
        heading: `Manual add: ${ctx.service}`,
        intro: [
          "This order was added by hand on the dashboard: its lab data will not arrive automatically.",
          "Please upload the lab data for this patient, then tell the operator so they can release the job from the Process Queue."
        ]
      }
  }
}

const fieldRows = (ctx: EmailContext): ReadonlyArray<readonly [string, string]> => {
  const rows: Array<readonly [string, string]> = [
    ["Document", ctx.docId],
    ["Service", ctx.service],
    ["Patient", patientLabel(ctx)]
  ]
  if (ctx.attempt !== undefined) rows.push(["Attempt", String(ctx.attempt)])
  if (ctx.errorMessage !== undefined && ctx.errorMessage !== "") rows.push(["Error", ctx.errorMessage])
  return rows
}

const renderText = (t: TemplateText, ctx: EmailContext, link: string): string => {
  const lines: Array<string> = [...t.intro, ""]
  for (const [label, value] of fieldRows(ctx)) lines.push(`${label}: ${value}`)
  if (ctx.lastLogLines !== undefined && ctx.lastLogLines.length > 0) {
    lines.push("", "Last log lines:")
    for (const line of ctx.lastLogLines) lines.push(`  ${line}`)
  }
  lines.push("", `Dashboard: ${link}`, "", "-- Longevity.Omics Job Allocator")
  return lines.join("\n") + "\n"
}

const renderHtml = (t: TemplateText, ctx: EmailContext, link: string): string => {
  const rows = fieldRows(ctx)
    .map(
      ([label, value]) =>
        `<tr><th align="left" style="padding:2px 12px 2px 0">${escapeHtml(label)}</th><td style="padding:2px 0">${escapeHtml(value)}</td></tr>`
    )
    .join("\n")
  const log =
    ctx.lastLogLines !== undefined && ctx.lastLogLines.length > 0
      ? `<h3>Last log lines</h3>\n<pre style="background:#f4f4f4;padding:8px;white-space:pre-wrap">${ctx.lastLogLines
          .map(escapeHtml)
          .join("\n")}</pre>\n`
      : ""
  const href = escapeHtml(link)
  return [
    "<!DOCTYPE html>",
    `<html><head><meta charset="utf-8"><title>${escapeHtml(oneLine(t.subject))}</title></head>`,
    '<body style="font-family:sans-serif">',
    `<h2>${escapeHtml(t.heading)}</h2>`,
    ...t.intro.map((p) => `<p>${escapeHtml(p)}</p>`),
    `<table>\n${rows}\n</table>`,
    log,
    `<p><a href="${href}">Open in the dashboard</a> (${href})</p>`,
    "<p>-- Longevity.Omics Job Allocator</p>",
    "</body></html>",
    ""
  ].join("\n")
}

export const render = (template: EmailTemplate, ctx: EmailContext): RenderedEmail => {
  const t = templateText(template, ctx)
  const link = docLink(ctx.dashboardUrl, ctx.docId)
  return { subject: oneLine(t.subject), text: renderText(t, ctx, link), html: renderHtml(t, ctx, link) }
}
