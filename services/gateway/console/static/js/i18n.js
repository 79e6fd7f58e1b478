// Words and numbers in zh-CN (the default) and English; the choice is kept in localStorage.

const zh = {
  appTitle: '社会工作人才平台', login: '登录', logout: '退出', username: '用户名', password: '密码',
  loginFailed: '用户名或密码不正确', loginThrottled: '尝试次数过多，请 {seconds} 秒后再试', waitingFor: '等待接口：{what}', empty: '暂无数据', all: '全部',
  yes: '是', no: '否', search: '查询', more: '加载更多', back: '← 返回列表', open: '查看', actions: '操作',
  name: '姓名', gender: '性别', 'gender.male': '男', 'gender.female': '女', birthDate: '出生日期',
  idNumber: '身份证号', phone: '手机号', education: '学历', politicalStatus: '政治面貌', fullTime: '专职',
  notes: '备注', registeredOn: '登记日期', station: '社工站', level: '证书等级', month: '月份', kind: '类型',
  amount: '金额', status: '状态', reason: '原因', policy: '政策', date: '日期', title: '名称', hours: '学时',
  period: '时间', role: '岗位', startDate: '入职日期', endDate: '离职日期', current: '至今',
  certificateNo: '证书编号', obtainedOn: '取得日期', revokedOn: '撤销', ceHours: '继续教育学时',
  honourLevel: '级别', awardedOn: '授予日期', submittedAt: '提交时间', decidedAt: '审核时间',
  subsidy: '人才补贴', award: '奖励',
  'page.dashboard': '数据看板', 'page.workers': '人才库', 'page.import': '批量导入', 'page.review': '审核',
  'page.disbursements': '补贴发放', 'page.station': '社工站', 'page.me': '我的',
  'role.bureau_admin': '民政局管理员', 'role.auditor': '审计', 'role.station_manager': '社工站站长',
  'role.social_worker': '社会工作者', 'role.hr_system': '人社系统', 'role.service': '服务',
  'level.assistant': '助理社会工作师', 'level.intermediate': '社会工作师', 'level.senior': '高级社会工作师',
  'rule.payable': '可发放', 'rule.already_paid': '已发放', 'rule.not_in_force': '政策未生效',
  'rule.no_certificate': '无有效证书', 'rule.not_full_time': '非专职服务', 'rule.continuity': '连续服务不足',
  'rule.not_registered': '未登记', 'rule.cap_reached': '已达上限',
  'dash.holders': '持证人数（按等级）', 'dash.holdersTotal': '持证社工', 'dash.paid': '累计发放补贴',
  'dash.peopleYuan': '{people} 人，{yuan}', 'dash.paidNote': '截至 {to} 已到账净额（扣除追回）；待发放 {pending}',
  'dash.paidFen': '已发放', 'dash.pendingFen': '待发放', 'dash.recoveredFen': '追回', 'dash.netFen': '净额',
  'dash.receivable': '应收回（尚未抵扣）：{yuan}',
  'dash.waiting': '待审核申请', 'dash.waitingNote': '补贴申请', 'dash.workers': '在库社工',
  'dash.stations': '{n} 个社工站', 'dash.paidByMonth': '每月发放补贴（元）', 'dash.paidByStation': '各社工站受补贴人数',
  'dash.people': '人数', 'dash.yuan': '元', 'dash.unknownStation': '（无服务记录）', 'dash.projects': '小微项目（按状态）',
  'dash.projectCount': '项目数', 'dash.calls': '资金申报：预算与支出（元）', 'dash.budget': '预算',
  'dash.allocated': '已批复', 'dash.spent': '已支出',
  'dash.holdersByStationApi': '各社工站持证人数与历年变化（GET /registry/v1/stats 按站、按时间）',
  'workers.filters': '筛选', 'workers.q': '姓名或身份证号', 'workers.qHint': '输入姓名', 'workers.registered': '已登记',
  'workers.list': '社工名单', 'workers.none': '没有符合条件的社工',
  'worker.record': '基本信息', 'worker.certificates': '职业水平证书', 'worker.employment': '从业经历',
  'worker.registration': '民政局登记', 'worker.registeredOn': '{date} 在 {division} 登记',
  'worker.notRegistered': '尚未在民政局登记', 'worker.training': '培训', 'worker.honours': '荣誉表彰',
  'worker.eligibility': '补贴资格（逐月）', 'worker.payments': '补贴发放记录', 'worker.applications': '补贴申请',
  'cert.valid': '有效', 'cert.revoked': '已撤销',
  'training.exam_preparation': '考前培训', 'training.supervision': '督导', 'training.study_visit': '参访学习',
  'training.other': '其他',
  'elig.perMonth': '每月 {yuan} × {n}', 'elig.months': '{n} 个月',
  'elig.yes': '符合补贴条件', 'elig.no': '暂不符合补贴条件', 'elig.payableTotal': '可发放 {n} 个月，共 {yuan}',
  'line.pending': '待发放', 'line.paid': '已发放', 'line.failed': '发放失败', 'line.voided': '已作废',
  'line.recorded': '已录入', 'lineKind.subsidy': '人才补贴', 'lineKind.top_up': '补差', 'lineKind.recovery': '追回',
  'lineKind.award': '奖励', 'disb.netToPay': '实际转账', 'disb.transfers': '{n} 笔转账；追回 {recovered}，抵扣 {setOff}',
  'disb.recordedAt': '记录时间', 'worker.statement': '补贴对账单（逐月）',
  'statement.total': '应发 {due}，净额 {net}', 'statement.due': '应发', 'statement.paid': '已发',
  'statement.pending': '待发', 'statement.topUps': '补差', 'statement.recovered': '追回', 'statement.net': '净额', 'payments.none': '暂无发放记录',
  'app.submitted': '待审核', 'app.approved': '已通过', 'app.rejected': '已驳回', 'apps.none': '暂无申请',
  'import.title': '上传人员信息表', 'import.file': '文件（CSV 或 XLSX）', 'import.upload': '上传并导入',
  'import.help': '表头可用中文（姓名、身份证号、所在社工站、证书等级……）。按身份证号更新已有人员；有错误的行不导入，其余行照常导入。',
  'import.report': '逐行结果', 'import.rows': '总行数', 'import.created': '新增', 'import.updated': '更新',
  'import.unchanged': '未变', 'import.error': '错误', 'import.errors': '错误说明', 'import.row': '行号',
  'import.worker': '人员', 'import.onlyErrors': '只看错误行和待核对行', 'import.needs_review': '待核对',
  'import.dryRun': '试导入（只检查，不写入）', 'import.dryRunDone': '这是试导入：已逐行检查，没有写入任何数据。',
  'import.template': '下载导入模板（Excel）', 'import.workbook': '下载带原因的结果表（Excel）',
  'import.sheet': '工作表', 'import.headerRow': '表头在第 {n} 行',
  'review.applications': '补贴申请', 'review.makerChecker': '审核人不能是提交人：您自己提交的申请须由另一位管理员审核。',
  'review.approve': '通过', 'review.reject': '驳回', 'review.reasonHint': '驳回原因', 'review.reasonNeeded': '请填写驳回原因',
  'review.ownSubmission': '本人提交，须由他人审核', 'review.bureauOnly': '由民政局审核', 'review.byYou': '由您审核',
  'review.submitter': '提交人', 'review.you': '本人', 'review.decision': '审核', 'review.none': '没有待处理的申请',
  'review.claims': '证书核验', 'review.claimsHelp': '非民政局录入的证书（站长、未受信任的人社系统）须经另一位管理员核验后才生效。',
  'review.employments': '从业经历确认', 'review.employmentsHelp': '站长补录的两个月以前开始的从业经历，须经民政局确认后才计入。',
  'review.awards': '奖励审批', 'review.awardsHelp': '奖励由一位管理员录入、另一位管理员批准，随下一批次发放。',
  'review.ownRecord': '本人录入，须由他人审核', 'review.recordedAt': '录入时间',
  'verification.claimed': '待核验', 'verification.verified': '已核验', 'verification.rejected': '已驳回',
  'confirmation.pending': '待确认', 'confirmation.confirmed': '已确认', 'confirmation.rejected': '已驳回',
  'awardStatus.recorded': '待批准', 'awardStatus.approved': '已批准', 'awardStatus.rejected': '已驳回',
  'disb.new': '生成月度发放批次', 'disb.help': '同一月份只生成一次，再次提交返回同一批次；包含所有已通过申请的应发月份（含补发）。',
  'disb.create': '生成 / 打开批次', 'disb.batch': '{month} 发放批次', 'disb.lines': '笔数', 'disb.total': '合计',
  'disb.createdBy': '创建人', 'disb.markPaid': '已付', 'disb.markFailed': '失败', 'disb.failReason': '失败原因',
  'disb.noLines': '本批次没有发放明细', 'disb.noList': '请从发放批次链接打开批次。',
  'disb.recoveries': '追回记录', 'disb.noRecoveries': '暂无追回', 'disb.paidFen': '已发', 'disb.dueFen': '应发',
  'disb.export.xlsx': '导出 Excel', 'disb.export.csv': '导出 CSV',
  'disb.lifecycleApi': '公示、异议、复核放款、银行代发文件与回盘（发放流程接口，issue 17）',
  'report.include': '列入', 'report.hours': '服务时长', 'report.revision': '版本', 'report.saveDraft': '保存草稿',
  'report.confirm': '确认上报', 'report.amend': '提交更正', 'report.amendHelp': '修改后提交更正，每条变更生成新版本。',
  'report.none': '{month} 尚无服务月报：勾选本月在岗的社工，填写是否专职与服务时长。',
  'report.draft': '草稿', 'report.confirmed': '已确认', 'report.draftHelp': '草稿确认后计入补贴。',
  'report.confirmedAt': '确认于 {at}', 'report.amendedAt': '更正于 {at}', 'report.nothingChanged': '没有改动',
  'report.notEmployed': '{n} 名社工本月不在本站任职，已取消勾选，请再次保存。',
  'station.report': '{month} 服务月报', 'station.workers': '本站社工（{n} 人）', 'station.projects': '小微项目与活动',
  'station.none': '您没有可管理的社工站',
  'project.draft': '草稿', 'project.submitted': '已申报', 'project.approved': '已批复', 'project.rejected': '未通过',
  'project.in_progress': '实施中', 'project.completed': '已完成', 'project.closed': '已结项',
  'project.category': '类别', 'project.requested': '申请金额', 'project.spent': '已支出',
  'project.beneficiaries': '服务对象', 'project.volunteerHours': '志愿时长', 'project.expense': '支出',
  'project.noActivities': '暂无活动记录', 'project.none': '暂无项目',
  'project.do.submit': '申报', 'project.do.start': '开始实施', 'project.do.complete': '完成',
  'category.elderly': '一老', 'category.children': '一小', 'category.hardship': '一困', 'category.disability': '一残',
  'category.women': '妇女', 'category.self_governance': '居民自治', 'category.social_organizations': '社会组织培育',
  'category.volunteering': '志愿服务', 'category.charitable_resources': '慈善资源', 'category.other': '其他',
  'partner.community': '社区', 'partner.social_organization': '社会组织', 'partner.social_worker': '社会工作者',
  'partner.volunteer': '社区志愿者', 'partner.charitable_resource': '社会慈善资源',
  'me.eligibility': '我的补贴资格', 'me.applications': '我的申请', 'me.payments': '我的补贴',
  'me.timeline': '逐月说明', 'me.timelineHelp': '每个月是否可发放，以及原因。', 'me.apply': '申请人才补贴',
  'me.applyAnyway': '目前尚不符合条件，仍可提交申请，由民政局审核。', 'me.open.submitted': '申请审核中。',
  'me.open.approved': '申请已通过，补贴按月随批次发放。', 'me.noWorker': '此账号未关联社工档案。',
  'me.noCertificate': '暂无有效证书',
};

const en = {
  appTitle: 'Social-work talent platform', login: 'Sign in', logout: 'Sign out', username: 'User name',
  password: 'Password', loginFailed: 'Wrong user name or password',
  loginThrottled: 'Too many attempts: try again in {seconds} s', waitingFor: 'Waiting for an API: {what}',
  empty: 'Nothing yet', all: 'All', yes: 'yes', no: 'no', search: 'Search', more: 'Load more', back: '← Back to the list',
  open: 'open', actions: 'Actions', name: 'Name', gender: 'Sex', 'gender.male': 'male', 'gender.female': 'female',
  birthDate: 'Born', idNumber: 'ID number', phone: 'Phone', education: 'Education', politicalStatus: 'Political status',
  fullTime: 'Full-time', notes: 'Notes', registeredOn: 'Registered', station: 'Station', level: 'Level',
  month: 'Month', kind: 'Kind', amount: 'Amount', status: 'Status', reason: 'Reason', policy: 'Policy', date: 'Date',
  title: 'Title', hours: 'Hours', period: 'Period', role: 'Role', startDate: 'Start', endDate: 'End',
  current: 'current', certificateNo: 'Certificate no.', obtainedOn: 'Obtained', revokedOn: 'Revoked',
  ceHours: 'CE hours', honourLevel: 'Level', awardedOn: 'Awarded', submittedAt: 'Submitted', decidedAt: 'Decided',
  subsidy: 'talent subsidy', award: 'award',
  'page.dashboard': 'Dashboard', 'page.workers': 'Talent database', 'page.import': 'Import', 'page.review': 'Review',
  'page.disbursements': 'Disbursements', 'page.station': 'Station', 'page.me': 'Me',
  'role.bureau_admin': 'bureau admin', 'role.auditor': 'auditor', 'role.station_manager': 'station manager',
  'role.social_worker': 'social worker', 'role.hr_system': 'HR system', 'role.service': 'service',
  'level.assistant': 'assistant social worker', 'level.intermediate': 'social worker',
  'level.senior': 'senior social worker',
  'rule.payable': 'payable', 'rule.already_paid': 'paid', 'rule.not_in_force': 'policy not in force',
  'rule.no_certificate': 'no certificate', 'rule.not_full_time': 'not full-time', 'rule.continuity': 'continuity',
  'rule.not_registered': 'not registered', 'rule.cap_reached': 'cap reached',
  'dash.holders': 'Certificate holders by level', 'dash.holdersTotal': 'Certificate holders',
  'dash.paid': 'Subsidy paid', 'dash.peopleYuan': '{people} people, {yuan}',
  'dash.paidNote': 'net paid up to {to} (recoveries taken off); pending {pending}',
  'dash.paidFen': 'paid', 'dash.pendingFen': 'pending', 'dash.recoveredFen': 'recovered', 'dash.netFen': 'net',
  'dash.receivable': 'receivable (not yet set off): {yuan}', 'dash.waiting': 'Applications waiting',
  'dash.waitingNote': 'subsidy applications', 'dash.workers': 'Workers', 'dash.stations': '{n} stations',
  'dash.paidByMonth': 'Subsidy paid per month (yuan)', 'dash.paidByStation': 'People paid by station',
  'dash.people': 'people', 'dash.yuan': 'yuan', 'dash.unknownStation': '(no service record)',
  'dash.projects': 'Micro-projects by state', 'dash.projectCount': 'projects',
  'dash.calls': 'Fund calls: budget and spending (yuan)', 'dash.budget': 'budget', 'dash.allocated': 'allocated',
  'dash.spent': 'spent',
  'dash.holdersByStationApi': 'holders by station and over time (GET /registry/v1/stats by station, by date)',
  'workers.filters': 'Filters', 'workers.q': 'Name or ID number', 'workers.qHint': 'a name',
  'workers.registered': 'Registered', 'workers.list': 'Workers', 'workers.none': 'No worker matches',
  'worker.record': 'Record', 'worker.certificates': 'Certificates', 'worker.employment': 'Employment',
  'worker.registration': 'Registration with the bureau', 'worker.registeredOn': 'registered {date} in {division}',
  'worker.notRegistered': 'not registered with the bureau', 'worker.training': 'Training', 'worker.honours': 'Honours',
  'worker.eligibility': 'Eligibility month by month', 'worker.payments': 'Payments',
  'worker.applications': 'Applications', 'cert.valid': 'valid', 'cert.revoked': 'revoked',
  'training.exam_preparation': 'exam preparation', 'training.supervision': 'supervision',
  'training.study_visit': 'study visit', 'training.other': 'other',
  'elig.perMonth': '{yuan} a month × {n}', 'elig.months': '{n} months',
  'elig.yes': 'Eligible for the subsidy', 'elig.no': 'Not eligible yet', 'elig.payableTotal': '{n} payable months, {yuan}',
  'line.pending': 'pending', 'line.paid': 'paid', 'line.failed': 'failed', 'line.voided': 'voided',
  'line.recorded': 'recorded', 'lineKind.subsidy': 'subsidy', 'lineKind.top_up': 'top-up', 'lineKind.recovery': 'recovery',
  'lineKind.award': 'award', 'disb.netToPay': 'to transfer', 'disb.transfers': '{n} transfers; recovered {recovered}, set off {setOff}',
  'disb.recordedAt': 'Recorded', 'worker.statement': 'Statement month by month',
  'statement.total': 'due {due}, net {net}', 'statement.due': 'due', 'statement.paid': 'paid',
  'statement.pending': 'pending', 'statement.topUps': 'top-ups', 'statement.recovered': 'recovered', 'statement.net': 'net', 'payments.none': 'No payments yet',
  'app.submitted': 'waiting', 'app.approved': 'approved', 'app.rejected': 'rejected', 'apps.none': 'No applications',
  'import.title': 'Upload a staff list', 'import.file': 'File (CSV or XLSX)', 'import.upload': 'Upload and import',
  'import.help': 'Chinese or English headers. People are updated by ID number; bad rows are not imported, the others are.',
  'import.report': 'Row by row', 'import.rows': 'rows', 'import.created': 'created', 'import.updated': 'updated',
  'import.unchanged': 'unchanged', 'import.error': 'errors', 'import.errors': 'What is wrong', 'import.row': 'Row',
  'import.worker': 'Person', 'import.onlyErrors': 'bad and to-review rows only', 'import.needs_review': 'to review',
  'import.dryRun': 'dry run (check only, write nothing)', 'import.dryRunDone': 'A dry run: every row was checked, nothing was written.',
  'import.template': 'Download the import template (XLSX)', 'import.workbook': 'Download the report with reasons (XLSX)',
  'import.sheet': 'sheet', 'import.headerRow': 'header in row {n}',
  'review.applications': 'Subsidy applications',
  'review.makerChecker': 'The reviewer may not be the submitter: what you submitted is decided by another admin.',
  'review.approve': 'Approve', 'review.reject': 'Reject', 'review.reasonHint': 'reason', 'review.reasonNeeded': 'A rejection needs a reason',
  'review.ownSubmission': 'submitted by you: another admin decides', 'review.bureauOnly': 'decided by the bureau',
  'review.byYou': 'decided by you', 'review.submitter': 'Submitted by', 'review.you': 'you', 'review.decision': 'Decision',
  'review.none': 'Nothing to review', 'review.claims': 'Certificate claims',
  'review.claimsHelp': 'A certificate recorded outside the bureau (a station, an untrusted HR system) counts once another admin verifies it.',
  'review.employments': 'Employment confirmations',
  'review.employmentsHelp': 'Employment a station recorded as starting more than two months back counts once the bureau confirms it.',
  'review.awards': 'Award approvals', 'review.awardsHelp': 'One admin records an award, another approves it; the next batch pays it.',
  'review.ownRecord': 'recorded by you: another admin decides', 'review.recordedAt': 'Recorded',
  'verification.claimed': 'claimed', 'verification.verified': 'verified', 'verification.rejected': 'rejected',
  'confirmation.pending': 'pending', 'confirmation.confirmed': 'confirmed', 'confirmation.rejected': 'rejected',
  'awardStatus.recorded': 'recorded', 'awardStatus.approved': 'approved', 'awardStatus.rejected': 'rejected',
  'disb.new': "The month's disbursement", 'disb.help': 'Created once per month; again returns the same batch. Every payable month of approved applications not yet paid is included (arrears too).',
  'disb.create': 'Create / open the batch', 'disb.batch': 'Batch {month}', 'disb.lines': 'lines', 'disb.total': 'total',
  'disb.createdBy': 'created by', 'disb.markPaid': 'paid', 'disb.markFailed': 'failed', 'disb.failReason': 'why it failed',
  'disb.noLines': 'No lines in this batch', 'disb.noList': 'Open a batch from its link.',
  'disb.recoveries': 'Recoveries', 'disb.noRecoveries': 'No recoveries', 'disb.paidFen': 'paid', 'disb.dueFen': 'due',
  'disb.export.xlsx': 'Export XLSX', 'disb.export.csv': 'Export CSV',
  'disb.lifecycleApi': 'public notice, objections, release by a second person, bank files and results (the batch lifecycle)',
  'report.include': 'In', 'report.hours': 'Hours', 'report.revision': 'Revision', 'report.saveDraft': 'Save draft',
  'report.confirm': 'Confirm', 'report.amend': 'Amend', 'report.amendHelp': 'Change cells and amend: each change is a new revision.',
  'report.none': 'No report for {month} yet: tick who served, full-time or not, and the hours.',
  'report.draft': 'draft', 'report.confirmed': 'confirmed', 'report.draftHelp': 'A draft counts once confirmed.',
  'report.confirmedAt': 'confirmed {at}', 'report.amendedAt': 'amended {at}', 'report.nothingChanged': 'Nothing changed',
  'report.notEmployed': '{n} workers were not employed here that month and were unticked; save again.',
  'station.report': 'Service report {month}', 'station.workers': 'Workers ({n})', 'station.projects': 'Micro-projects and activities',
  'station.none': 'You manage no station',
  'project.draft': 'draft', 'project.submitted': 'submitted', 'project.approved': 'approved', 'project.rejected': 'rejected',
  'project.in_progress': 'in progress', 'project.completed': 'completed', 'project.closed': 'closed',
  'project.category': 'Category', 'project.requested': 'Requested', 'project.spent': 'Spent',
  'project.beneficiaries': 'Beneficiaries', 'project.volunteerHours': 'Volunteer hours', 'project.expense': 'Expense',
  'project.noActivities': 'No activities yet', 'project.none': 'No projects',
  'project.do.submit': 'Submit', 'project.do.start': 'Start', 'project.do.complete': 'Complete',
  'category.elderly': 'elderly', 'category.children': 'children', 'category.hardship': 'hardship',
  'category.disability': 'disability', 'category.women': 'women', 'category.self_governance': 'self-governance',
  'category.social_organizations': 'social organizations', 'category.volunteering': 'volunteering',
  'category.charitable_resources': 'charitable resources', 'category.other': 'other',
  'partner.community': 'community', 'partner.social_organization': 'social organization',
  'partner.social_worker': 'social worker', 'partner.volunteer': 'volunteers', 'partner.charitable_resource': 'charity',
  'me.eligibility': 'My subsidy', 'me.applications': 'My applications', 'me.payments': 'My payments',
  'me.timeline': 'Month by month', 'me.timelineHelp': 'Whether each month is payable, and why.',
  'me.apply': 'Apply for the talent subsidy', 'me.applyAnyway': 'Not eligible yet; you may still apply and the bureau decides.',
  'me.open.submitted': 'Your application is being reviewed.', 'me.open.approved': 'Approved: paid monthly with each batch.',
  'me.noWorker': 'This account has no worker record.', 'me.noCertificate': 'no valid certificate',
};

export const DICTIONARIES = { 'zh-CN': zh, en };
let current = localStorage.getItem('console.lang') === 'en' ? 'en' : 'zh-CN';

export function lang() {
  return current;
}

export function setLang(value) {
  current = value === 'en' ? 'en' : 'zh-CN';
  localStorage.setItem('console.lang', current);
}

// t(key, {name: value}): the text for the key with {name} replaced; an unknown key shows itself.
export function t(key, vars = {}) {
  const text = DICTIONARIES[current][key] ?? zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ''));
}

export function num(n) {
  return new Intl.NumberFormat(current).format(n);
}

// Integer fen to yuan without floating point: 7820000 -> 78,200 元 / ¥78,200.
export function yuan(fen) {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  const whole = num(Math.trunc(abs / 100));
  const cents = abs % 100 ? `.${String(abs % 100).padStart(2, '0')}` : '';
  return current === 'en' ? `${sign}¥${whole}${cents}` : `${sign}${whole}${cents} 元`;
}

export function levelName(level) {
  return t(`level.${level}`);
}

export function ruleName(rule) {
  return t(`rule.${rule}`);
}

export function dateText(iso) {
  return iso ? iso.slice(0, 10) : '—';
}

export function timeText(iso) {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(current, { timeZone: 'Asia/Shanghai', dateStyle: 'medium', timeStyle: 'short' })
    .format(new Date(iso));
}
