import { describe, expect, it } from "@effect/vitest"
import { docLink, escapeHtml, render } from "../../kernel/mail/templates.ts"
import { EMAIL_TEMPLATES, type EmailContext } from "../../schemas/email.ts"

const base: EmailContext = {
  docId: "rep-7",
  service: "Gen-Decoder",
  patientId: "P001",
  dashboardUrl: "http://127.0.0.1:8080/"
}

describe("email templates", () => {
  it.each(EMAIL_TEMPLATES)("%s names the doc, patient and service and links to the doc", (template) => {
    const out = render(template, { ...base, patientName: "Grace Hopper" })
    for (const part of [out.subject, out.text, out.html]) {
      expect(part).toContain("rep-7")
      expect(part).toContain("P001")
      expect(part).toContain("Gen-Decoder")
    }
    expect(out.text).toContain("Grace Hopper")
    expect(out.html).toContain("Grace Hopper")
    expect(out.text).toContain("http://127.0.0.1:8080/#/doc/rep-7")
    expect(out.html).toContain('href="http://127.0.0.1:8080/#/doc/rep-7"')
  })

  it("the three templates have different subjects", () => {
    const subjects = EMAIL_TEMPLATES.map((t) => render(t, base).subject)
    expect(new Set(subjects).size).toBe(3)
    expect(render("upload_reminder", base).subject).toMatch(/upload reminder/i)
    expect(render("permanent_failure", base).subject).toMatch(/permanent failure/i)
    expect(render("manual_add", base).subject).toMatch(/manual add/i)
  })

  it("permanent_failure shows attempt, error and the last log lines in order", () => {
    const out = render("permanent_failure", {
      ...base,
      attempt: 3,
      errorMessage: "exit code 1",
      lastLogLines: ["line one", "line two", "line three"]
    })
    expect(out.text).toContain("Attempt: 3")
    expect(out.text).toContain("Error: exit code 1")
    expect(out.text).toMatch(/line one\n\s*line two\n\s*line three/)
    expect(out.html).toContain("<pre")
    expect(out.html).toMatch(/line one\nline two\nline three/)
    expect(out.html).toMatch(/Attempt<\/th><td[^>]*>3</)
  })

  it("omits attempt, error and log sections that are not given", () => {
    const out = render("upload_reminder", base)
    expect(out.text).not.toContain("Attempt:")
    expect(out.text).not.toContain("Error:")
    expect(out.text).not.toContain("Last log lines")
    expect(out.html).not.toContain("<pre")
  })

  it("HTML-escapes every user-provided value and keeps the subject one line", () => {
    const evil = '<script>alert("x")</script>&\''
    const out = render("permanent_failure", {
      docId: `d"><img src=x onerror=1>`,
      service: evil,
      patientId: evil,
      patientName: evil,
      attempt: 1,
      errorMessage: evil,
      lastLogLines: [evil, "</pre><b>bold</b>"],
      dashboardUrl: 'http://h/"onmouseover="x'
    })
    expect(out.html).not.toContain("<script>")
    expect(out.html).not.toContain("<img")
    expect(out.html).not.toContain("<b>bold")
    expect(out.html).not.toContain('"onmouseover="')
    expect(out.html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;")
    // The doc id in the link is URL-encoded, so it can never leave the fragment.
    expect(out.text).toContain(`/#/doc/${encodeURIComponent(`d"><img src=x onerror=1>`)}`)

    const header = render("manual_add", { ...base, patientName: "Eve\r\nBcc: victim@x.test", docId: "r\n1" })
    expect(header.subject).not.toMatch(/[\r\n]/)
    expect(header.subject).toContain("Eve Bcc: victim@x.test")
  })

  it("escapeHtml and docLink", () => {
    expect(escapeHtml(`a<b>&"'`)).toBe("a&lt;b&gt;&amp;&quot;&#39;")
    expect(docLink("http://x:1///", "r1")).toBe("http://x:1/#/doc/r1")
    expect(docLink("http://x:1", "a/b")).toBe("http://x:1/#/doc/a%2Fb")
  })
})
