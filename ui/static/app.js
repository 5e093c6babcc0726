// The rules editor: a form over a draft of the rules, kept in step with its YAML by the server
// (POST /ui/api/build), which also checks it as the rules will be and places every problem on a field.
// Plain JavaScript, no build step; the server does the thinking.
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('editor-data').textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var draft = data.draft;
  var yamlText = data.yaml;
  var problems = [];
  var sentences = data.sentences || [];
  var mode = draft.locked ? 'yaml' : 'form';
  var building = 0;
  var timer = null;

  var OPS = {
    '==': 'is', '!=': 'is not', 'in': 'is one of', 'not_in': 'is none of', 'contains': 'contains',
    '<': 'is less than', '<=': 'is at most', '>': 'is more than', '>=': 'is at least',
    'has': 'is given', 'not_has': 'is not given', 'has_key': 'has the name', 'key_equals': 'named'
  };
  var DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

  function $(id) { return document.getElementById(id); }

  // el builds an element: el('input', {type: 'text', value: 'x', oninput: fn}, child, 'text', ...).
  function el(tag, attrs) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), v);
      else if (k === 'text') e.textContent = v;
      else if (k === 'value') e.value = v;
      else if (k === 'checked') e.checked = !!v;
      else e.setAttribute(k, v === true ? '' : v);
    });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return e;
  }

  function idOf(path) { return 'f-' + path.replace(/[^A-Za-z0-9_]+/g, '-'); }

  // field is a labelled input bound to get/set: it rebuilds the YAML as the user types.
  function field(path, label, value, set, opts) {
    opts = opts || {};
    var id = idOf(path);
    var input;
    if (opts.textarea) {
      input = el('textarea', {id: id, rows: opts.rows || 3, spellcheck: 'false'});
      input.value = value || '';
    } else {
      input = el('input', {id: id, type: opts.type || 'text', value: value === undefined || value === null ? '' : String(value),
        placeholder: opts.placeholder, list: opts.list, autocomplete: 'off', inputmode: opts.inputmode, min: opts.min, size: opts.size});
    }
    input.setAttribute('data-path', path);
    input.addEventListener('input', function () { set(input.value); changed(); });
    var wrap = el('div', {class: 'field' + (opts.cls ? ' ' + opts.cls : '')}, el('label', {for: id, text: label}), input);
    if (opts.hint) wrap.appendChild(el('small', {class: 'hint', text: opts.hint}));
    return wrap;
  }

  function select(path, label, value, options, set, opts) {
    opts = opts || {};
    var id = idOf(path);
    var s = el('select', {id: id, 'data-path': path});
    options.forEach(function (o) {
      var opt = el('option', {value: o[0], text: o[1]});
      if (String(o[0]) === String(value === undefined || value === null ? '' : value)) opt.selected = true;
      s.appendChild(opt);
    });
    s.addEventListener('change', function () { set(s.value); if (opts.rerender) renderForm(); changed(); });
    return el('div', {class: 'field'}, el('label', {for: id, text: label}), s);
  }

  function checkbox(path, label, checked, set) {
    var id = idOf(path);
    var c = el('input', {type: 'checkbox', id: id, 'data-path': path, checked: checked});
    c.addEventListener('change', function () { set(c.checked); renderForm(); changed(); });
    return el('div', {class: 'field check'}, c, el('label', {for: id, text: label}));
  }

  function button(text, onclick, cls) {
    return el('button', {type: 'button', class: cls || 'secondary', onclick: function () { onclick(); renderForm(); changed(); }, text: text});
  }

  function kindOf(rule) {
    for (var i = 0; i < data.kinds.length; i++) if (data.kinds[i].name === (rule.kind || 'call_completed')) return data.kinds[i];
    return data.kinds[0];
  }

  function fieldOf(kind, name) {
    for (var i = 0; i < kind.fields.length; i++) if (kind.fields[i].name === name) return kind.fields[i];
    return null;
  }

  function mapText(m) {
    return Object.keys(m || {}).map(function (k) { return k + ': ' + m[k]; }).join('\n');
  }

  function parseMap(text) {
    var out = {};
    text.split('\n').forEach(function (line) {
      var i = line.indexOf(':');
      if (i <= 0) return;
      out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    });
    return Object.keys(out).length ? out : undefined;
  }

  // ---- the form ----

  function renderForm() {
    var box = $('rules');
    var focus = document.activeElement && document.activeElement.id;
    box.textContent = '';
    $('f-time_zone').value = draft.time_zone || '';
    (draft.rules || []).forEach(function (r, i) { box.appendChild(renderRule(r, i)); });
    renderSentences();
    showProblems();
    if (focus && $(focus)) $(focus).focus();
  }

  function renderRule(r, i) {
    var p = 'rules[' + i + ']';
    var fs = el('fieldset', {class: 'rule', 'data-path': p, id: 'rule-' + i});
    fs.appendChild(el('legend', {text: 'Rule ' + (i + 1) + (r.id ? ': ' + r.id : '')}));
    fs.appendChild(el('p', {class: 'sentence', id: 'sentence-' + i}));
    if (r.locked) {
      fs.appendChild(el('p', {class: 'note', text: 'The form cannot show all of this rule (' + r.reason + '). ' +
        'It is kept exactly as written; change it in the advanced view.'}));
      fs.appendChild(el('pre', {class: 'yaml', text: r.raw}));
      fs.appendChild(button('Remove this rule', function () { draft.rules.splice(i, 1); }));
      return fs;
    }
    var kind = kindOf(r);
    var head = el('div', {class: 'row'});
    head.appendChild(field(p + '.id', 'Name (letters, digits, - _ .)', r.id, function (v) { r.id = v; }));
    head.appendChild(field(p + '.description', 'Description', r.description, function (v) { r.description = v; }, {cls: 'wide'}));
    fs.appendChild(head);
    var row = el('div', {class: 'row'});
    row.appendChild(select(p + '.kind', 'For callbacks of the kind', r.kind || 'call_completed',
      data.kinds.map(function (k) { return [k.name, k.label]; }), function (v) { r.kind = v; }, {rerender: true}));
    row.appendChild(checkbox(p + '.enabled', 'Switched on', r.enabled, function (v) { r.enabled = v; }));
    fs.appendChild(row);

    var when = el('fieldset', {class: 'when', 'data-path': p + '.when'}, el('legend', {text: 'When'}));
    if (r.custom) {
      when.appendChild(el('p', {class: 'note', text: 'This condition is written in CEL, which the list of conditions cannot show.'}));
      when.appendChild(field(p + '.when', 'Condition (CEL)', r.when, function (v) { r.when = v; }, {textarea: true, rows: 2}));
      when.appendChild(button('Use a list of conditions instead', function () { r.custom = false; r.conditions = []; }));
    } else {
      if (!r.conditions.length) when.appendChild(el('p', {class: 'note', text: 'No condition: every call matches.'}));
      r.conditions.forEach(function (c, j) { when.appendChild(renderCondition(r, kind, c, p + '.conditions[' + j + ']', j)); });
      when.appendChild(button('Add a condition', function () {
        r.conditions.push({field: 'intention_description', op: '==', value: ''});
      }));
      when.appendChild(button('Write the condition in CEL', function () { r.custom = true; }));
    }
    fs.appendChild(when);

    var acts = el('fieldset', {class: 'actions', 'data-path': p + '.actions'}, el('legend', {text: 'Then'}));
    r.actions.forEach(function (a, k) { acts.appendChild(renderAction(r, a, p + '.actions[' + k + ']', k)); });
    acts.appendChild(button('Add an action', function () { r.actions.push({type: data.actions[0].type}); }));
    fs.appendChild(acts);
    fs.appendChild(button('Remove this rule', function () { draft.rules.splice(i, 1); }, 'danger'));
    return fs;
  }

  function renderCondition(r, kind, c, p, j) {
    var row = el('div', {class: 'condition row', 'data-path': p});
    var f = fieldOf(kind, c.field) || kind.fields[0];
    row.appendChild(el('span', {class: 'joiner', text: j === 0 ? 'the' : 'and the'}));
    row.appendChild(select(p + '.field', 'Field', c.field, kind.fields.map(function (x) { return [x.name, x.label]; }), function (v) {
      c.field = v;
      var nf = fieldOf(kind, v);
      if (data.ops[nf.type].indexOf(c.op) < 0) c.op = data.ops[nf.type][0];
    }, {rerender: true}));
    row.appendChild(select(p + '.op', 'How', c.op, data.ops[f.type].map(function (o) {
      return [o, f.type === 'number' && o === '==' ? 'equals' : OPS[o]];
    }), function (v) { c.op = v; }, {rerender: true}));
    var stored = kind.variable === 'call' ? (data.values[f.name] || []) : []; // values seen are read from stored calls
    var seen = (f.values || []).concat(stored.filter(function (v) { return (f.values || []).indexOf(v) < 0; }));
    var listID = seen.length ? 'values-' + f.name : undefined;
    if (listID && !$(listID)) {
      var dl = el('datalist', {id: listID});
      seen.forEach(function (v) { dl.appendChild(el('option', {value: v})); });
      document.body.appendChild(dl);
    }
    if (c.op === 'in' || c.op === 'not_in') {
      row.appendChild(field(p + '.value', 'Values, separated by commas', (c.values || []).join(', '), function (v) {
        c.values = v.split(',').map(function (s) { return s.trim(); }).filter(function (s) { return s; });
      }, {hint: seen.length ? 'seen: ' + seen.slice(0, 12).join(', ') : '', cls: 'wide'}));
    } else if (c.op === 'has_key' || c.op === 'key_equals') {
      row.appendChild(field(p + '.key', 'Name', c.key, function (v) { c.key = v; }));
      if (c.op === 'key_equals') row.appendChild(field(p + '.value', 'is', c.value, function (v) { c.value = v; }));
    } else if (c.op !== 'has' && c.op !== 'not_has') {
      row.appendChild(field(p + '.value', f.type === 'duration' ? 'Duration (30s, 2m)' : 'Value', c.value, function (v) { c.value = v; },
        {list: f.type === 'text' ? listID : undefined, inputmode: f.type === 'number' ? 'decimal' : undefined}));
    }
    row.appendChild(button('Remove', function () { r.conditions.splice(j, 1); }));
    return row;
  }

  function renderAction(r, a, p, k) {
    var fs = el('fieldset', {class: 'action', 'data-path': p}, el('legend', {text: 'Action ' + (k + 1) + (a.name ? ': ' + a.name : '')}));
    var row = el('div', {class: 'row'});
    row.appendChild(select(p + '.type', 'Do', a.type, data.actions.map(function (t) { return [t.type, t.label]; }), function (v) {
      var keep = {name: a.name, type: v, delay: a.delay, at: a.at, window: a.window, max_per_day: a.max_per_day, on_cap: a.on_cap};
      Object.keys(a).forEach(function (key) { delete a[key]; });
      Object.keys(keep).forEach(function (key) { if (keep[key] !== undefined) a[key] = keep[key]; });
    }, {rerender: true}));
    row.appendChild(field(p + '.name', 'Name of the action', a.name, function (v) { a.name = v || undefined; }, {placeholder: a.type}));
    fs.appendChild(row);
    var type = data.actions.filter(function (t) { return t.type === a.type; })[0];
    if (type) {
      var params = el('div', {class: 'params'});
      type.params.forEach(function (prm) { params.appendChild(renderParam(a, prm, p + '.' + prm.name)); });
      fs.appendChild(params);
    }
    fs.appendChild(renderTiming(a, p));
    fs.appendChild(button('Remove this action', function () { r.actions.splice(k, 1); }));
    return fs;
  }

  function renderParam(a, prm, p) {
    var set = function (v) { a[prm.name] = v === '' ? undefined : v; };
    switch (prm.type) {
      case 'map':
        return field(p, prm.label, mapText(a[prm.name]), function (v) { a[prm.name] = parseMap(v); }, {textarea: true, hint: prm.description});
      case 'json':
        return field(p, prm.label, a[prm.name], set, {textarea: true, rows: 6, hint: prm.description});
      case 'choice':
        return select(p, prm.label, a[prm.name] || '', [['', '(default)']].concat(prm.choices.map(function (c) { return [c, c]; })), set);
      case 'target':
        var opts = [['', '(none)']].concat(data.targets.map(function (t) { return [t, t]; }));
        if (a.target && data.targets.indexOf(a.target) < 0) opts.push([a.target, a.target + ' (not configured)']);
        return select(p, prm.label, a[prm.name] || '', opts, set);
      default:
        return field(p, prm.label, a[prm.name], set, {placeholder: prm.placeholder, hint: prm.description, cls: prm.type === 'template' ? 'wide' : '',
          inputmode: prm.type === 'number' ? 'numeric' : undefined});
    }
  }

  function renderTiming(a, p) {
    var t = el('fieldset', {class: 'timing'}, el('legend', {text: 'When it runs'}));
    var row = el('div', {class: 'row'});
    row.appendChild(field(p + '.delay', 'Wait after the call', a.delay, function (v) { a.delay = v || undefined; }, {placeholder: 'e.g. 2h, 1d', size: 8}));
    row.appendChild(checkbox(p + '.at', 'At a time relative to a date of the call', !!a.at, function (on) {
      a.at = on ? {date: 'due_date', days_before: 1, time: '09:00'} : undefined;
    }));
    t.appendChild(row);
    if (a.at) {
      var at = a.at;
      var before = at.days_after ? 'after' : 'before';
      var days = at.days_after || at.days_before || 0;
      var r2 = el('div', {class: 'row', 'data-path': p + '.at'});
      r2.appendChild(field(p + '.at.days_before', 'Days', days, function (v) {
        var n = parseInt(v, 10) || 0;
        if (before === 'after') { at.days_after = n; delete at.days_before; } else { at.days_before = n; delete at.days_after; }
      }, {type: 'number', min: 0, size: 3}));
      r2.appendChild(select(p + '.at.side', 'before or after', before, [['before', 'before'], ['after', 'after']], function (v) {
        var n = at.days_after || at.days_before || 0;
        delete at.days_after; delete at.days_before;
        if (v === 'after') at.days_after = n; else at.days_before = n;
      }, {rerender: true}));
      r2.appendChild(select(p + '.at.date', 'the', at.date, data.at_dates.map(function (d) {
        var f = fieldOf(data.kinds[0], d);
        return [d, f ? f.label : d];
      }), function (v) { at.date = v; }));
      r2.appendChild(field(p + '.at.time', 'at (HH:MM)', at.time, function (v) { at.time = v; }, {placeholder: '09:00', size: 5, inputmode: 'numeric'}));
      t.appendChild(r2);
    }
    var r3 = el('div', {class: 'row'});
    r3.appendChild(checkbox(p + '.window', 'Only inside calling hours', !!a.window, function (on) {
      a.window = on ? {start: '08:00', end: '20:00'} : undefined;
    }));
    if (a.window) {
      var w = a.window;
      r3.appendChild(field(p + '.window.start', 'from (HH:MM)', w.start, function (v) { w.start = v; }, {size: 5, inputmode: 'numeric'}));
      r3.appendChild(field(p + '.window.end', 'to (HH:MM)', w.end, function (v) { w.end = v; }, {size: 5, inputmode: 'numeric'}));
      var days = el('fieldset', {class: 'days', 'data-path': p + '.window.days'}, el('legend', {text: 'on (none ticked: every day)'}));
      DAYS.forEach(function (d) {
        var id = idOf(p + '.window.days.' + d);
        var c = el('input', {type: 'checkbox', id: id, checked: (w.days || []).indexOf(d) >= 0});
        c.addEventListener('change', function () {
          var list = (w.days || []).filter(function (x) { return x !== d; });
          if (c.checked) list.push(d);
          w.days = DAYS.filter(function (x) { return list.indexOf(x) >= 0; });
          if (!w.days.length) delete w.days;
          changed();
        });
        days.appendChild(el('span', {class: 'day'}, c, el('label', {for: id, text: d})));
      });
      r3.appendChild(days);
    }
    t.appendChild(r3);
    var r4 = el('div', {class: 'row'});
    r4.appendChild(field(p + '.max_per_day', 'At most a day (0: no cap)', a.max_per_day || '', function (v) {
      a.max_per_day = parseInt(v, 10) || undefined;
    }, {type: 'number', min: 0, size: 3}));
    r4.appendChild(select(p + '.on_cap', 'then', a.on_cap || '', [['', 'wait for the next day'], ['skip', 'drop it']], function (v) {
      a.on_cap = v || undefined;
    }));
    r4.appendChild(select(p + '.on_unknown', 'If it is unclear whether it happened', a.on_unknown || '',
      [['', '(default)'], ['review', 'stop for an operator'], ['retry', 'repeat it']], function (v) { a.on_unknown = v || undefined; }));
    t.appendChild(r4);
    return t;
  }

  function renderSentences() {
    (draft.rules || []).forEach(function (r, i) {
      var p = $('sentence-' + i);
      if (!p) return;
      p.textContent = '';
      var s = sentences && sentences[i];
      if (!s) { p.appendChild(el('span', {class: 'muted', text: problems.length ? 'Fix the problems to read this rule as a sentence.' : ''})); return; }
      var add = function (seg) { p.appendChild(seg.value ? el('em', {text: seg.text}) : seg.code ? el('code', {text: seg.text}) : document.createTextNode(seg.text)); };
      s.when.forEach(add);
      p.appendChild(document.createTextNode(' → '));
      s.then.forEach(function (t, k) { if (k) p.appendChild(document.createTextNode('; ')); t.forEach(add); });
    });
  }

  // ---- problems ----

  function showProblems() {
    document.querySelectorAll('.problem').forEach(function (n) { n.remove(); });
    document.querySelectorAll('[aria-invalid]').forEach(function (n) { n.removeAttribute('aria-invalid'); n.removeAttribute('aria-describedby'); });
    var summary = $('problems-summary');
    summary.textContent = '';
    if (!problems.length) return;
    var unplaced = [];
    problems.forEach(function (pr, n) {
      var target = mode === 'form' ? findTarget(pr.path) : null;
      var text = pr.message;
      if (mode === 'yaml' || !target) text = (pr.line ? 'line ' + pr.line + ': ' : '') + (pr.rule ? 'rule ' + pr.rule + ': ' : '') + (pr.field ? pr.field + ': ' : '') + pr.message;
      if (!target) { unplaced.push(text); return; }
      // Beside its own field, "at: time: … is not a time of day" reads better without the keys.
      if (input_(target)) text = text.replace(/^([a-z_]+(\.[A-Za-z0-9_-]+)?: )+/, '');
      var id = 'problem-' + n;
      var msg = el('p', {class: 'problem', id: id, 'data-for': pr.path, text: text});
      var input = input_(target) ? target : null;
      var wrap = input ? input.closest('.field') || input : target;
      if (input) { input.setAttribute('aria-invalid', 'true'); input.setAttribute('aria-describedby', id); }
      if (wrap.tagName === 'FIELDSET') wrap.insertBefore(msg, wrap.children[1] || null);
      else wrap.appendChild(msg);
    });
    summary.appendChild(el('p', {class: 'error', text: problems.length + (problems.length === 1 ? ' problem' : ' problems') +
      ': fix ' + (problems.length === 1 ? 'it' : 'them') + ' before trying or switching on this draft.'}));
    if (unplaced.length) {
      var ul = el('ul', {class: 'problem-list'});
      unplaced.forEach(function (t) { ul.appendChild(el('li', {class: 'problem', text: t})); });
      summary.appendChild(ul);
    }
  }

  function input_(e) { return e.matches('input, select, textarea'); }

  // findTarget is the element for a problem's path, or its nearest ancestor on the form.
  function findTarget(path) {
    while (path) {
      var e = document.querySelector('[data-path="' + path + '"]');
      if (e && e.offsetParent !== null) return e;
      var cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
      if (cut <= 0) return null;
      path = path.slice(0, cut);
    }
    return null;
  }

  // ---- talking to the server ----

  function post(url, body) {
    return fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
      body: JSON.stringify(body)
    }).then(function (resp) {
      return resp.json().catch(function () { return {error: 'the server answered ' + resp.status}; }).then(function (j) { j._status = resp.status; return j; });
    });
  }

  function status(text) { $('status').textContent = text; }

  function changed() {
    if (mode === 'form') {
      draft.time_zone = $('f-time_zone').value;
    } else {
      yamlText = $('yaml').value;
    }
    status('Checking…');
    clearTimeout(timer);
    timer = setTimeout(build, 300);
  }

  function build() {
    var n = ++building;
    var body = mode === 'form' ? {draft: draft} : {yaml: yamlText};
    return post('/ui/api/build', body).then(function (resp) {
      if (n !== building) return; // a newer answer is coming
      if (resp.error) { status(resp.error); return; }
      problems = resp.problems || [];
      sentences = resp.sentences || [];
      if (mode === 'form') {
        yamlText = resp.yaml;
        $('yaml').value = yamlText;
      } else {
        draft = resp.draft;
      }
      renderSentences();
      showProblems();
      status(problems.length ? '' : 'The draft is sound.');
    }).catch(function () { status('Could not reach rudderhook: check your connection.'); });
  }

  function setMode(m) {
    if (m === 'form' && draft.locked) {
      status('The form cannot show this document (' + draft.reason + '): keep editing it here.');
      return;
    }
    mode = m;
    $('form-view').hidden = m !== 'form';
    $('yaml-view').hidden = m !== 'yaml';
    $('view-form').setAttribute('aria-pressed', String(m === 'form'));
    $('view-yaml').setAttribute('aria-pressed', String(m === 'yaml'));
    if (m === 'yaml') $('yaml').value = yamlText;
    else renderForm();
    showProblems();
  }

  // ---- what would it have done ----

  function runDryRun() {
    var out = $('dryrun-result');
    clearTimeout(timer);
    build().then(function () {
      if (problems.length) { out.textContent = 'Fix the problems above first: a draft with problems cannot run.'; return; }
      out.textContent = 'Trying the draft on the stored calls…';
      return post('/ui/api/dry-run', {yaml: yamlText, from: $('from').value, to: $('to').value}).then(function (resp) {
        out.textContent = '';
        if (resp.error) { out.appendChild(el('p', {class: 'error', text: resp.error})); if (resp.problems) { problems = resp.problems; showProblems(); } return; }
        out.appendChild(renderDiff(resp));
      });
    });
  }

  function renderDiff(resp) {
    var d = resp.diff;
    var box = el('div', {id: 'dryrun-report'});
    box.appendChild(el('p', {class: 'summary', id: 'dryrun-summary', text: 'Tried on ' + d.calls + (d.calls === 1 ? ' call' : ' calls') + ' received from ' + resp.from + ' to ' + resp.to +
      ' (' + resp.time_zone + ')' + (resp.limited ? ', the newest only' : '') + ': ' +
      (d.changed ? d.changed + (d.changed === 1 ? ' follow-up differs' : ' follow-ups differ') + ' from the rules in force.' : 'no follow-up differs from the rules in force.')}));
    var table = el('table', {class: 'diff-table'});
    table.appendChild(el('caption', {text: 'Follow-ups per rule and action: the rules in force (version ' + (resp.in_force_version || '–') + ') and this draft'}));
    table.appendChild(el('thead', {}, el('tr', {},
      el('th', {scope: 'col', text: 'Rule'}), el('th', {scope: 'col', text: 'Action'}),
      el('th', {scope: 'col', text: 'In force'}), el('th', {scope: 'col', text: 'This draft'}),
      el('th', {scope: 'col', text: 'Added'}), el('th', {scope: 'col', text: 'Removed'}), el('th', {scope: 'col', text: 'Changed'}))));
    var tb = el('tbody');
    d.rows.forEach(function (r) {
      var skipped = function (n) { return n ? ' (+' + n + ' skipped)' : ''; };
      var tr = el('tr', {'data-rule': r.rule, 'data-action': r.action},
        el('th', {scope: 'row', text: r.rule}), el('td', {text: r.action}),
        el('td', {class: 'in-force', text: r.in_force + skipped(r.in_force_skipped)}),
        el('td', {class: 'draft', text: r.draft + skipped(r.draft_skipped)}),
        el('td', {class: 'added' + (r.added ? ' plus' : ''), text: r.added ? '+' + r.added : '0'}),
        el('td', {class: 'removed' + (r.removed ? ' minus' : ''), text: r.removed ? '−' + r.removed : '0'}),
        el('td', {class: 'changed' + (r.changed ? ' tilde' : ''), text: String(r.changed)}));
      tb.appendChild(tr);
      if (r.samples.length) {
        var list = el('ul', {class: 'samples'});
        r.samples.forEach(function (s) {
          var li = el('li', {class: 'sample ' + s.change},
            el('strong', {text: s.change}), ' call ', el('code', {text: s.call_key}), s.case_id ? ' (case ' + s.case_id + ', ' + s.intention + ')' : '',
            el('br'), 'when: ' + s.when);
          if (s.before) li.appendChild(el('div', {class: 'before', text: 'in force: ' + s.before}));
          if (!s.skip) li.appendChild(el('pre', {class: 'request', text: s.request}));
          list.appendChild(li);
        });
        var open = r.added + r.removed + r.changed > 0;
        tb.appendChild(el('tr', {class: 'samples-row'}, el('td', {colspan: 7},
          el('details', {open: open}, el('summary', {text: open ? 'Sample calls that change' : 'Sample calls'}), list))));
      }
    });
    table.appendChild(tb);
    box.appendChild(table);
    if (d.errors && d.errors.length) {
      box.appendChild(el('p', {class: 'error', text: d.errors.length + ' calls could not be checked by a condition (they count as not matched), e.g. ' +
        d.errors[0].call_key + ': ' + d.errors[0].problem.message}));
    }
    return box;
  }

  // ---- switching on ----

  function save() {
    var out = $('save-result');
    clearTimeout(timer);
    build().then(function () {
      if (problems.length) { out.textContent = 'Fix the problems above first.'; return; }
      out.textContent = 'Switching on…';
      return post('/ui/api/save', {yaml: yamlText, comment: $('comment').value, base_version: data.version}).then(function (resp) {
        if (resp.error) {
          out.textContent = '';
          out.appendChild(el('p', {class: 'error', text: resp.error}));
          if (resp.problems) { problems = resp.problems; showProblems(); }
          return;
        }
        window.location.href = resp.created ? '/ui/history?saved=' + resp.version : '/ui/history?unchanged=' + resp.version;
      });
    });
  }

  // ---- start ----

  $('from').value = data.from;
  $('to').value = data.to;
  $('yaml').value = yamlText;
  $('yaml').addEventListener('input', changed);
  $('f-time_zone').addEventListener('input', changed);
  $('view-form').addEventListener('click', function () { setMode('form'); });
  $('view-yaml').addEventListener('click', function () { setMode('yaml'); });
  $('add-rule').addEventListener('click', function () {
    draft.rules = draft.rules || [];
    draft.rules.push({id: 'new-rule-' + (draft.rules.length + 1), kind: data.kinds[0].name, enabled: true, conditions: [], actions: [{type: data.actions[0].type}]});
    renderForm();
    changed();
  });
  $('run-dryrun').addEventListener('click', runDryRun);
  if ($('save-button')) $('save-button').addEventListener('click', save);
  setMode(mode);
  build();
})();
