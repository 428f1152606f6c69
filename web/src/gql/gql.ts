/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  fragment AuthFields on AuthPayload {\n    accessToken\n    refreshToken\n    expiresAt\n    tenant {\n      id\n    }\n  }\n": typeof types.AuthFieldsFragmentDoc,
    "\n  mutation RefreshToken($refreshToken: String!) {\n    refreshToken(refreshToken: $refreshToken) {\n      ...AuthFields\n    }\n  }\n": typeof types.RefreshTokenDocument,
    "\n  mutation SwitchTenant($tenantId: ID!) {\n    switchTenant(tenantId: $tenantId) {\n      ...AuthFields\n    }\n  }\n": typeof types.SwitchTenantDocument,
    "\n  mutation Logout {\n    logout\n  }\n": typeof types.LogoutDocument,
    "\n  query Me($tenantId: ID!) {\n    me {\n      id\n      email\n      memberships {\n        role\n        tenant {\n          id\n          organizationName\n        }\n      }\n    }\n    tenant(id: $tenantId) {\n      id\n      organizationName\n      status\n    }\n  }\n": typeof types.MeDocument,
    "\n  query Accounts {\n    accounts {\n      id\n      name\n      currency\n    }\n    instruments {\n      symbol\n      name\n      assetClass\n      currency\n      tickSize\n      lotSize\n      tradable\n      quote {\n        last\n        bid\n        ask\n      }\n    }\n  }\n": typeof types.AccountsDocument,
    "\n  subscription PriceUpdated($symbols: [ID!]!) {\n    priceUpdated(symbols: $symbols) {\n      symbol\n      price\n      bid\n      ask\n      timestamp\n    }\n  }\n": typeof types.PriceUpdatedDocument,
    "\n  query TenantAdmin($tenantId: ID!) {\n    tenant(id: $tenantId) {\n      id\n      organizationName\n      status\n      schemaName\n      health {\n        status\n        schemaPresent\n        migrationsApplied\n        migrationsExpected\n        schemaSizeBytes\n        quotaBytes\n        activeConnections\n        lastBackupStatus\n        lastVerifiedBackupAt\n        reasons\n        checkedAt\n      }\n      backups(first: 20) {\n        id\n        type\n        status\n        progress\n        sizeBytes\n        startedAt\n        completedAt\n        verifiedAt\n        error\n      }\n    }\n  }\n": typeof types.TenantAdminDocument,
    "\n  fragment JobFields on Job {\n    id\n    kind\n    state\n    progress\n    error\n  }\n": typeof types.JobFieldsFragmentDoc,
    "\n  query Job($id: ID!) {\n    job(id: $id) {\n      ...JobFields\n    }\n  }\n": typeof types.JobDocument,
    "\n  mutation BackupTenant($tenantId: ID!) {\n    backupTenant(tenantId: $tenantId) {\n      ...JobFields\n    }\n  }\n": typeof types.BackupTenantDocument,
    "\n  mutation RestoreTenant($backupId: ID!) {\n    restoreTenant(backupId: $backupId) {\n      ...JobFields\n    }\n  }\n": typeof types.RestoreTenantDocument,
    "\n  query MySessions {\n    mySessions {\n      id\n      createdAt\n      lastActiveAt\n      ipAddress\n      userAgent\n      current\n    }\n  }\n": typeof types.MySessionsDocument,
    "\n  mutation RevokeSession($id: ID!) {\n    revokeSession(id: $id)\n  }\n": typeof types.RevokeSessionDocument,
    "\n  mutation RevokeAllSessions {\n    revokeAllSessions\n  }\n": typeof types.RevokeAllSessionsDocument,
    "\n  query Orders($accountId: ID!) {\n    account(id: $accountId) {\n      id\n      orders(first: 100) {\n        ...OrderFields\n      }\n      trades(first: 100) {\n        ...TradeFields\n      }\n    }\n  }\n": typeof types.OrdersDocument,
    "\n  fragment TradeFields on Trade {\n    id\n    symbol\n    side\n    quantity\n    price\n    fee\n    executedAt\n  }\n": typeof types.TradeFieldsFragmentDoc,
    "\n  subscription OrderUpdated($accountId: ID!) {\n    orderUpdated(accountId: $accountId) {\n      ...OrderFields\n    }\n  }\n": typeof types.OrderUpdatedDocument,
    "\n  subscription TradeExecuted($accountId: ID!) {\n    tradeExecuted(accountId: $accountId) {\n      ...TradeFields\n    }\n  }\n": typeof types.TradeExecutedDocument,
    "\n  mutation CancelOrder($id: ID!) {\n    cancelOrder(id: $id) {\n      ...OrderFields\n    }\n  }\n": typeof types.CancelOrderDocument,
    "\n  mutation ReplaceOrder($id: ID!, $input: ReplaceOrderInput!) {\n    replaceOrder(id: $id, input: $input) {\n      ...OrderFields\n    }\n  }\n": typeof types.ReplaceOrderDocument,
    "\n  fragment DashboardFields on Dashboard {\n    id\n    name\n    version\n    editable\n    shared\n    updatedAt\n    widgets {\n      id\n      kind\n      config\n      layout\n    }\n  }\n": typeof types.DashboardFieldsFragmentDoc,
    "\n  query Dashboards {\n    dashboards {\n      ...DashboardFields\n    }\n  }\n": typeof types.DashboardsDocument,
    "\n  mutation SaveDashboard($input: SaveDashboardInput!) {\n    saveDashboard(input: $input) {\n      ...DashboardFields\n    }\n  }\n": typeof types.SaveDashboardDocument,
    "\n  mutation DeleteDashboard($id: ID!) {\n    deleteDashboard(id: $id)\n  }\n": typeof types.DeleteDashboardDocument,
    "\n  query Candles($symbol: ID!, $interval: CandleInterval!) {\n    candles(symbol: $symbol, interval: $interval, limit: 300) {\n      start\n      open\n      high\n      low\n      close\n      volume\n    }\n    indicators(symbol: $symbol, interval: $interval, limit: 300) {\n      sma(period: 20) {\n        time\n        value\n      }\n      ema(period: 50) {\n        time\n        value\n      }\n      bollinger(period: 20) {\n        time\n        upper\n        lower\n      }\n    }\n  }\n": typeof types.CandlesDocument,
    "\n  query PreviewOrder($input: PlaceOrderInput!) {\n    previewOrder(input: $input) {\n      accepted\n      rejectReason\n      message\n      estimatedPrice\n      estimatedNotional\n      estimatedFee\n      reservation\n      buyingPower\n      buyingPowerAfter\n    }\n  }\n": typeof types.PreviewOrderDocument,
    "\n  fragment OrderFields on Order {\n    id\n    clientOrderId\n    symbol\n    side\n    type\n    timeInForce\n    quantity\n    limitPrice\n    stopPrice\n    status\n    filledQuantity\n    averageFillPrice\n    rejectReason\n    rejectMessage\n    createdAt\n  }\n": typeof types.OrderFieldsFragmentDoc,
    "\n  mutation PlaceOrder($input: PlaceOrderInput!) {\n    placeOrder(input: $input) {\n      ...OrderFields\n    }\n  }\n": typeof types.PlaceOrderDocument,
    "\n  query Positions($accountId: ID!) {\n    account(id: $accountId) {\n      id\n      name\n      currency\n      cash\n      buyingPower\n      equity\n      marketValue\n      realizedPnl\n      unrealizedPnl\n      tradingState\n      positions {\n        symbol\n        quantity\n        averagePrice\n        lastPrice\n        marketValue\n        unrealizedPnl\n        realizedPnl\n      }\n    }\n  }\n": typeof types.PositionsDocument,
    "\n  query Reports($accountId: ID!) {\n    performanceReport(accountId: $accountId) {\n      from\n      to\n      observations\n      totalReturn\n      annualizedReturn\n      volatility\n      sharpe\n      sortino\n      calmar\n      maxDrawdown\n      startEquity\n      endEquity\n      bestDay {\n        at\n        return\n      }\n      worstDay {\n        at\n        return\n      }\n      monthlyReturns {\n        month\n        return\n      }\n      equityCurve {\n        at\n        equity\n        drawdown\n      }\n      trades {\n        count\n        wins\n        losses\n        winRate\n        profitFactor\n        totalPnl\n      }\n    }\n    riskReport(accountId: $accountId) {\n      equity\n      valueAtRisk95\n      expectedShortfall95\n      valueAtRisk99\n      expectedShortfall99\n      varMethod\n      horizonDays\n      observations\n      grossExposure\n      netExposure\n      exposureBySymbol {\n        key\n        gross\n        net\n        share\n      }\n      concentration {\n        largestSymbol\n        largestShare\n        herfindahl\n      }\n    }\n  }\n": typeof types.ReportsDocument,
    "\n  mutation Register($input: RegisterInput!) {\n    register(input: $input) {\n      ...AuthFields\n    }\n  }\n": typeof types.RegisterDocument,
    "\n  mutation Login($input: LoginInput!) {\n    login(input: $input) {\n      ...AuthFields\n    }\n  }\n": typeof types.LoginDocument,
    "\n  query OidcProviders {\n    oidcProviders {\n      id\n      issuer\n    }\n  }\n": typeof types.OidcProvidersDocument,
    "\n  mutation StartOidcLogin($input: StartOidcLoginInput) {\n    startOidcLogin(input: $input) {\n      authorizationUrl\n    }\n  }\n": typeof types.StartOidcLoginDocument,
    "\n  mutation CompleteOidcLogin($input: CompleteOidcLoginInput!) {\n    completeOidcLogin(input: $input) {\n      ...AuthFields\n    }\n  }\n": typeof types.CompleteOidcLoginDocument,
};
const documents: Documents = {
    "\n  fragment AuthFields on AuthPayload {\n    accessToken\n    refreshToken\n    expiresAt\n    tenant {\n      id\n    }\n  }\n": types.AuthFieldsFragmentDoc,
    "\n  mutation RefreshToken($refreshToken: String!) {\n    refreshToken(refreshToken: $refreshToken) {\n      ...AuthFields\n    }\n  }\n": types.RefreshTokenDocument,
    "\n  mutation SwitchTenant($tenantId: ID!) {\n    switchTenant(tenantId: $tenantId) {\n      ...AuthFields\n    }\n  }\n": types.SwitchTenantDocument,
    "\n  mutation Logout {\n    logout\n  }\n": types.LogoutDocument,
    "\n  query Me($tenantId: ID!) {\n    me {\n      id\n      email\n      memberships {\n        role\n        tenant {\n          id\n          organizationName\n        }\n      }\n    }\n    tenant(id: $tenantId) {\n      id\n      organizationName\n      status\n    }\n  }\n": types.MeDocument,
    "\n  query Accounts {\n    accounts {\n      id\n      name\n      currency\n    }\n    instruments {\n      symbol\n      name\n      assetClass\n      currency\n      tickSize\n      lotSize\n      tradable\n      quote {\n        last\n        bid\n        ask\n      }\n    }\n  }\n": types.AccountsDocument,
    "\n  subscription PriceUpdated($symbols: [ID!]!) {\n    priceUpdated(symbols: $symbols) {\n      symbol\n      price\n      bid\n      ask\n      timestamp\n    }\n  }\n": types.PriceUpdatedDocument,
    "\n  query TenantAdmin($tenantId: ID!) {\n    tenant(id: $tenantId) {\n      id\n      organizationName\n      status\n      schemaName\n      health {\n        status\n        schemaPresent\n        migrationsApplied\n        migrationsExpected\n        schemaSizeBytes\n        quotaBytes\n        activeConnections\n        lastBackupStatus\n        lastVerifiedBackupAt\n        reasons\n        checkedAt\n      }\n      backups(first: 20) {\n        id\n        type\n        status\n        progress\n        sizeBytes\n        startedAt\n        completedAt\n        verifiedAt\n        error\n      }\n    }\n  }\n": types.TenantAdminDocument,
    "\n  fragment JobFields on Job {\n    id\n    kind\n    state\n    progress\n    error\n  }\n": types.JobFieldsFragmentDoc,
    "\n  query Job($id: ID!) {\n    job(id: $id) {\n      ...JobFields\n    }\n  }\n": types.JobDocument,
    "\n  mutation BackupTenant($tenantId: ID!) {\n    backupTenant(tenantId: $tenantId) {\n      ...JobFields\n    }\n  }\n": types.BackupTenantDocument,
    "\n  mutation RestoreTenant($backupId: ID!) {\n    restoreTenant(backupId: $backupId) {\n      ...JobFields\n    }\n  }\n": types.RestoreTenantDocument,
    "\n  query MySessions {\n    mySessions {\n      id\n      createdAt\n      lastActiveAt\n      ipAddress\n      userAgent\n      current\n    }\n  }\n": types.MySessionsDocument,
    "\n  mutation RevokeSession($id: ID!) {\n    revokeSession(id: $id)\n  }\n": types.RevokeSessionDocument,
    "\n  mutation RevokeAllSessions {\n    revokeAllSessions\n  }\n": types.RevokeAllSessionsDocument,
    "\n  query Orders($accountId: ID!) {\n    account(id: $accountId) {\n      id\n      orders(first: 100) {\n        ...OrderFields\n      }\n      trades(first: 100) {\n        ...TradeFields\n      }\n    }\n  }\n": types.OrdersDocument,
    "\n  fragment TradeFields on Trade {\n    id\n    symbol\n    side\n    quantity\n    price\n    fee\n    executedAt\n  }\n": types.TradeFieldsFragmentDoc,
    "\n  subscription OrderUpdated($accountId: ID!) {\n    orderUpdated(accountId: $accountId) {\n      ...OrderFields\n    }\n  }\n": types.OrderUpdatedDocument,
    "\n  subscription TradeExecuted($accountId: ID!) {\n    tradeExecuted(accountId: $accountId) {\n      ...TradeFields\n    }\n  }\n": types.TradeExecutedDocument,
    "\n  mutation CancelOrder($id: ID!) {\n    cancelOrder(id: $id) {\n      ...OrderFields\n    }\n  }\n": types.CancelOrderDocument,
    "\n  mutation ReplaceOrder($id: ID!, $input: ReplaceOrderInput!) {\n    replaceOrder(id: $id, input: $input) {\n      ...OrderFields\n    }\n  }\n": types.ReplaceOrderDocument,
    "\n  fragment DashboardFields on Dashboard {\n    id\n    name\n    version\n    editable\n    shared\n    updatedAt\n    widgets {\n      id\n      kind\n      config\n      layout\n    }\n  }\n": types.DashboardFieldsFragmentDoc,
    "\n  query Dashboards {\n    dashboards {\n      ...DashboardFields\n    }\n  }\n": types.DashboardsDocument,
    "\n  mutation SaveDashboard($input: SaveDashboardInput!) {\n    saveDashboard(input: $input) {\n      ...DashboardFields\n    }\n  }\n": types.SaveDashboardDocument,
    "\n  mutation DeleteDashboard($id: ID!) {\n    deleteDashboard(id: $id)\n  }\n": types.DeleteDashboardDocument,
    "\n  query Candles($symbol: ID!, $interval: CandleInterval!) {\n    candles(symbol: $symbol, interval: $interval, limit: 300) {\n      start\n      open\n      high\n      low\n      close\n      volume\n    }\n    indicators(symbol: $symbol, interval: $interval, limit: 300) {\n      sma(period: 20) {\n        time\n        value\n      }\n      ema(period: 50) {\n        time\n        value\n      }\n      bollinger(period: 20) {\n        time\n        upper\n        lower\n      }\n    }\n  }\n": types.CandlesDocument,
    "\n  query PreviewOrder($input: PlaceOrderInput!) {\n    previewOrder(input: $input) {\n      accepted\n      rejectReason\n      message\n      estimatedPrice\n      estimatedNotional\n      estimatedFee\n      reservation\n      buyingPower\n      buyingPowerAfter\n    }\n  }\n": types.PreviewOrderDocument,
    "\n  fragment OrderFields on Order {\n    id\n    clientOrderId\n    symbol\n    side\n    type\n    timeInForce\n    quantity\n    limitPrice\n    stopPrice\n    status\n    filledQuantity\n    averageFillPrice\n    rejectReason\n    rejectMessage\n    createdAt\n  }\n": types.OrderFieldsFragmentDoc,
    "\n  mutation PlaceOrder($input: PlaceOrderInput!) {\n    placeOrder(input: $input) {\n      ...OrderFields\n    }\n  }\n": types.PlaceOrderDocument,
    "\n  query Positions($accountId: ID!) {\n    account(id: $accountId) {\n      id\n      name\n      currency\n      cash\n      buyingPower\n      equity\n      marketValue\n      realizedPnl\n      unrealizedPnl\n      tradingState\n      positions {\n        symbol\n        quantity\n        averagePrice\n        lastPrice\n        marketValue\n        unrealizedPnl\n        realizedPnl\n      }\n    }\n  }\n": types.PositionsDocument,
    "\n  query Reports($accountId: ID!) {\n    performanceReport(accountId: $accountId) {\n      from\n      to\n      observations\n      totalReturn\n      annualizedReturn\n      volatility\n      sharpe\n      sortino\n      calmar\n      maxDrawdown\n      startEquity\n      endEquity\n      bestDay {\n        at\n        return\n      }\n      worstDay {\n        at\n        return\n      }\n      monthlyReturns {\n        month\n        return\n      }\n      equityCurve {\n        at\n        equity\n        drawdown\n      }\n      trades {\n        count\n        wins\n        losses\n        winRate\n        profitFactor\n        totalPnl\n      }\n    }\n    riskReport(accountId: $accountId) {\n      equity\n      valueAtRisk95\n      expectedShortfall95\n      valueAtRisk99\n      expectedShortfall99\n      varMethod\n      horizonDays\n      observations\n      grossExposure\n      netExposure\n      exposureBySymbol {\n        key\n        gross\n        net\n        share\n      }\n      concentration {\n        largestSymbol\n        largestShare\n        herfindahl\n      }\n    }\n  }\n": types.ReportsDocument,
    "\n  mutation Register($input: RegisterInput!) {\n    register(input: $input) {\n      ...AuthFields\n    }\n  }\n": types.RegisterDocument,
    "\n  mutation Login($input: LoginInput!) {\n    login(input: $input) {\n      ...AuthFields\n    }\n  }\n": types.LoginDocument,
    "\n  query OidcProviders {\n    oidcProviders {\n      id\n      issuer\n    }\n  }\n": types.OidcProvidersDocument,
    "\n  mutation StartOidcLogin($input: StartOidcLoginInput) {\n    startOidcLogin(input: $input) {\n      authorizationUrl\n    }\n  }\n": types.StartOidcLoginDocument,
    "\n  mutation CompleteOidcLogin($input: CompleteOidcLoginInput!) {\n    completeOidcLogin(input: $input) {\n      ...AuthFields\n    }\n  }\n": types.CompleteOidcLoginDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment AuthFields on AuthPayload {\n    accessToken\n    refreshToken\n    expiresAt\n    tenant {\n      id\n    }\n  }\n"): (typeof documents)["\n  fragment AuthFields on AuthPayload {\n    accessToken\n    refreshToken\n    expiresAt\n    tenant {\n      id\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RefreshToken($refreshToken: String!) {\n    refreshToken(refreshToken: $refreshToken) {\n      ...AuthFields\n    }\n  }\n"): (typeof documents)["\n  mutation RefreshToken($refreshToken: String!) {\n    refreshToken(refreshToken: $refreshToken) {\n      ...AuthFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SwitchTenant($tenantId: ID!) {\n    switchTenant(tenantId: $tenantId) {\n      ...AuthFields\n    }\n  }\n"): (typeof documents)["\n  mutation SwitchTenant($tenantId: ID!) {\n    switchTenant(tenantId: $tenantId) {\n      ...AuthFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Logout {\n    logout\n  }\n"): (typeof documents)["\n  mutation Logout {\n    logout\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Me($tenantId: ID!) {\n    me {\n      id\n      email\n      memberships {\n        role\n        tenant {\n          id\n          organizationName\n        }\n      }\n    }\n    tenant(id: $tenantId) {\n      id\n      organizationName\n      status\n    }\n  }\n"): (typeof documents)["\n  query Me($tenantId: ID!) {\n    me {\n      id\n      email\n      memberships {\n        role\n        tenant {\n          id\n          organizationName\n        }\n      }\n    }\n    tenant(id: $tenantId) {\n      id\n      organizationName\n      status\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Accounts {\n    accounts {\n      id\n      name\n      currency\n    }\n    instruments {\n      symbol\n      name\n      assetClass\n      currency\n      tickSize\n      lotSize\n      tradable\n      quote {\n        last\n        bid\n        ask\n      }\n    }\n  }\n"): (typeof documents)["\n  query Accounts {\n    accounts {\n      id\n      name\n      currency\n    }\n    instruments {\n      symbol\n      name\n      assetClass\n      currency\n      tickSize\n      lotSize\n      tradable\n      quote {\n        last\n        bid\n        ask\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription PriceUpdated($symbols: [ID!]!) {\n    priceUpdated(symbols: $symbols) {\n      symbol\n      price\n      bid\n      ask\n      timestamp\n    }\n  }\n"): (typeof documents)["\n  subscription PriceUpdated($symbols: [ID!]!) {\n    priceUpdated(symbols: $symbols) {\n      symbol\n      price\n      bid\n      ask\n      timestamp\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query TenantAdmin($tenantId: ID!) {\n    tenant(id: $tenantId) {\n      id\n      organizationName\n      status\n      schemaName\n      health {\n        status\n        schemaPresent\n        migrationsApplied\n        migrationsExpected\n        schemaSizeBytes\n        quotaBytes\n        activeConnections\n        lastBackupStatus\n        lastVerifiedBackupAt\n        reasons\n        checkedAt\n      }\n      backups(first: 20) {\n        id\n        type\n        status\n        progress\n        sizeBytes\n        startedAt\n        completedAt\n        verifiedAt\n        error\n      }\n    }\n  }\n"): (typeof documents)["\n  query TenantAdmin($tenantId: ID!) {\n    tenant(id: $tenantId) {\n      id\n      organizationName\n      status\n      schemaName\n      health {\n        status\n        schemaPresent\n        migrationsApplied\n        migrationsExpected\n        schemaSizeBytes\n        quotaBytes\n        activeConnections\n        lastBackupStatus\n        lastVerifiedBackupAt\n        reasons\n        checkedAt\n      }\n      backups(first: 20) {\n        id\n        type\n        status\n        progress\n        sizeBytes\n        startedAt\n        completedAt\n        verifiedAt\n        error\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment JobFields on Job {\n    id\n    kind\n    state\n    progress\n    error\n  }\n"): (typeof documents)["\n  fragment JobFields on Job {\n    id\n    kind\n    state\n    progress\n    error\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Job($id: ID!) {\n    job(id: $id) {\n      ...JobFields\n    }\n  }\n"): (typeof documents)["\n  query Job($id: ID!) {\n    job(id: $id) {\n      ...JobFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation BackupTenant($tenantId: ID!) {\n    backupTenant(tenantId: $tenantId) {\n      ...JobFields\n    }\n  }\n"): (typeof documents)["\n  mutation BackupTenant($tenantId: ID!) {\n    backupTenant(tenantId: $tenantId) {\n      ...JobFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RestoreTenant($backupId: ID!) {\n    restoreTenant(backupId: $backupId) {\n      ...JobFields\n    }\n  }\n"): (typeof documents)["\n  mutation RestoreTenant($backupId: ID!) {\n    restoreTenant(backupId: $backupId) {\n      ...JobFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query MySessions {\n    mySessions {\n      id\n      createdAt\n      lastActiveAt\n      ipAddress\n      userAgent\n      current\n    }\n  }\n"): (typeof documents)["\n  query MySessions {\n    mySessions {\n      id\n      createdAt\n      lastActiveAt\n      ipAddress\n      userAgent\n      current\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RevokeSession($id: ID!) {\n    revokeSession(id: $id)\n  }\n"): (typeof documents)["\n  mutation RevokeSession($id: ID!) {\n    revokeSession(id: $id)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RevokeAllSessions {\n    revokeAllSessions\n  }\n"): (typeof documents)["\n  mutation RevokeAllSessions {\n    revokeAllSessions\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Orders($accountId: ID!) {\n    account(id: $accountId) {\n      id\n      orders(first: 100) {\n        ...OrderFields\n      }\n      trades(first: 100) {\n        ...TradeFields\n      }\n    }\n  }\n"): (typeof documents)["\n  query Orders($accountId: ID!) {\n    account(id: $accountId) {\n      id\n      orders(first: 100) {\n        ...OrderFields\n      }\n      trades(first: 100) {\n        ...TradeFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment TradeFields on Trade {\n    id\n    symbol\n    side\n    quantity\n    price\n    fee\n    executedAt\n  }\n"): (typeof documents)["\n  fragment TradeFields on Trade {\n    id\n    symbol\n    side\n    quantity\n    price\n    fee\n    executedAt\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription OrderUpdated($accountId: ID!) {\n    orderUpdated(accountId: $accountId) {\n      ...OrderFields\n    }\n  }\n"): (typeof documents)["\n  subscription OrderUpdated($accountId: ID!) {\n    orderUpdated(accountId: $accountId) {\n      ...OrderFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription TradeExecuted($accountId: ID!) {\n    tradeExecuted(accountId: $accountId) {\n      ...TradeFields\n    }\n  }\n"): (typeof documents)["\n  subscription TradeExecuted($accountId: ID!) {\n    tradeExecuted(accountId: $accountId) {\n      ...TradeFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CancelOrder($id: ID!) {\n    cancelOrder(id: $id) {\n      ...OrderFields\n    }\n  }\n"): (typeof documents)["\n  mutation CancelOrder($id: ID!) {\n    cancelOrder(id: $id) {\n      ...OrderFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ReplaceOrder($id: ID!, $input: ReplaceOrderInput!) {\n    replaceOrder(id: $id, input: $input) {\n      ...OrderFields\n    }\n  }\n"): (typeof documents)["\n  mutation ReplaceOrder($id: ID!, $input: ReplaceOrderInput!) {\n    replaceOrder(id: $id, input: $input) {\n      ...OrderFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment DashboardFields on Dashboard {\n    id\n    name\n    version\n    editable\n    shared\n    updatedAt\n    widgets {\n      id\n      kind\n      config\n      layout\n    }\n  }\n"): (typeof documents)["\n  fragment DashboardFields on Dashboard {\n    id\n    name\n    version\n    editable\n    shared\n    updatedAt\n    widgets {\n      id\n      kind\n      config\n      layout\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Dashboards {\n    dashboards {\n      ...DashboardFields\n    }\n  }\n"): (typeof documents)["\n  query Dashboards {\n    dashboards {\n      ...DashboardFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SaveDashboard($input: SaveDashboardInput!) {\n    saveDashboard(input: $input) {\n      ...DashboardFields\n    }\n  }\n"): (typeof documents)["\n  mutation SaveDashboard($input: SaveDashboardInput!) {\n    saveDashboard(input: $input) {\n      ...DashboardFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeleteDashboard($id: ID!) {\n    deleteDashboard(id: $id)\n  }\n"): (typeof documents)["\n  mutation DeleteDashboard($id: ID!) {\n    deleteDashboard(id: $id)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Candles($symbol: ID!, $interval: CandleInterval!) {\n    candles(symbol: $symbol, interval: $interval, limit: 300) {\n      start\n      open\n      high\n      low\n      close\n      volume\n    }\n    indicators(symbol: $symbol, interval: $interval, limit: 300) {\n      sma(period: 20) {\n        time\n        value\n      }\n      ema(period: 50) {\n        time\n        value\n      }\n      bollinger(period: 20) {\n        time\n        upper\n        lower\n      }\n    }\n  }\n"): (typeof documents)["\n  query Candles($symbol: ID!, $interval: CandleInterval!) {\n    candles(symbol: $symbol, interval: $interval, limit: 300) {\n      start\n      open\n      high\n      low\n      close\n      volume\n    }\n    indicators(symbol: $symbol, interval: $interval, limit: 300) {\n      sma(period: 20) {\n        time\n        value\n      }\n      ema(period: 50) {\n        time\n        value\n      }\n      bollinger(period: 20) {\n        time\n        upper\n        lower\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query PreviewOrder($input: PlaceOrderInput!) {\n    previewOrder(input: $input) {\n      accepted\n      rejectReason\n      message\n      estimatedPrice\n      estimatedNotional\n      estimatedFee\n      reservation\n      buyingPower\n      buyingPowerAfter\n    }\n  }\n"): (typeof documents)["\n  query PreviewOrder($input: PlaceOrderInput!) {\n    previewOrder(input: $input) {\n      accepted\n      rejectReason\n      message\n      estimatedPrice\n      estimatedNotional\n      estimatedFee\n      reservation\n      buyingPower\n      buyingPowerAfter\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment OrderFields on Order {\n    id\n    clientOrderId\n    symbol\n    side\n    type\n    timeInForce\n    quantity\n    limitPrice\n    stopPrice\n    status\n    filledQuantity\n    averageFillPrice\n    rejectReason\n    rejectMessage\n    createdAt\n  }\n"): (typeof documents)["\n  fragment OrderFields on Order {\n    id\n    clientOrderId\n    symbol\n    side\n    type\n    timeInForce\n    quantity\n    limitPrice\n    stopPrice\n    status\n    filledQuantity\n    averageFillPrice\n    rejectReason\n    rejectMessage\n    createdAt\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation PlaceOrder($input: PlaceOrderInput!) {\n    placeOrder(input: $input) {\n      ...OrderFields\n    }\n  }\n"): (typeof documents)["\n  mutation PlaceOrder($input: PlaceOrderInput!) {\n    placeOrder(input: $input) {\n      ...OrderFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Positions($accountId: ID!) {\n    account(id: $accountId) {\n      id\n      name\n      currency\n      cash\n      buyingPower\n      equity\n      marketValue\n      realizedPnl\n      unrealizedPnl\n      tradingState\n      positions {\n        symbol\n        quantity\n        averagePrice\n        lastPrice\n        marketValue\n        unrealizedPnl\n        realizedPnl\n      }\n    }\n  }\n"): (typeof documents)["\n  query Positions($accountId: ID!) {\n    account(id: $accountId) {\n      id\n      name\n      currency\n      cash\n      buyingPower\n      equity\n      marketValue\n      realizedPnl\n      unrealizedPnl\n      tradingState\n      positions {\n        symbol\n        quantity\n        averagePrice\n        lastPrice\n        marketValue\n        unrealizedPnl\n        realizedPnl\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Reports($accountId: ID!) {\n    performanceReport(accountId: $accountId) {\n      from\n      to\n      observations\n      totalReturn\n      annualizedReturn\n      volatility\n      sharpe\n      sortino\n      calmar\n      maxDrawdown\n      startEquity\n      endEquity\n      bestDay {\n        at\n        return\n      }\n      worstDay {\n        at\n        return\n      }\n      monthlyReturns {\n        month\n        return\n      }\n      equityCurve {\n        at\n        equity\n        drawdown\n      }\n      trades {\n        count\n        wins\n        losses\n        winRate\n        profitFactor\n        totalPnl\n      }\n    }\n    riskReport(accountId: $accountId) {\n      equity\n      valueAtRisk95\n      expectedShortfall95\n      valueAtRisk99\n      expectedShortfall99\n      varMethod\n      horizonDays\n      observations\n      grossExposure\n      netExposure\n      exposureBySymbol {\n        key\n        gross\n        net\n        share\n      }\n      concentration {\n        largestSymbol\n        largestShare\n        herfindahl\n      }\n    }\n  }\n"): (typeof documents)["\n  query Reports($accountId: ID!) {\n    performanceReport(accountId: $accountId) {\n      from\n      to\n      observations\n      totalReturn\n      annualizedReturn\n      volatility\n      sharpe\n      sortino\n      calmar\n      maxDrawdown\n      startEquity\n      endEquity\n      bestDay {\n        at\n        return\n      }\n      worstDay {\n        at\n        return\n      }\n      monthlyReturns {\n        month\n        return\n      }\n      equityCurve {\n        at\n        equity\n        drawdown\n      }\n      trades {\n        count\n        wins\n        losses\n        winRate\n        profitFactor\n        totalPnl\n      }\n    }\n    riskReport(accountId: $accountId) {\n      equity\n      valueAtRisk95\n      expectedShortfall95\n      valueAtRisk99\n      expectedShortfall99\n      varMethod\n      horizonDays\n      observations\n      grossExposure\n      netExposure\n      exposureBySymbol {\n        key\n        gross\n        net\n        share\n      }\n      concentration {\n        largestSymbol\n        largestShare\n        herfindahl\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Register($input: RegisterInput!) {\n    register(input: $input) {\n      ...AuthFields\n    }\n  }\n"): (typeof documents)["\n  mutation Register($input: RegisterInput!) {\n    register(input: $input) {\n      ...AuthFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Login($input: LoginInput!) {\n    login(input: $input) {\n      ...AuthFields\n    }\n  }\n"): (typeof documents)["\n  mutation Login($input: LoginInput!) {\n    login(input: $input) {\n      ...AuthFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query OidcProviders {\n    oidcProviders {\n      id\n      issuer\n    }\n  }\n"): (typeof documents)["\n  query OidcProviders {\n    oidcProviders {\n      id\n      issuer\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation StartOidcLogin($input: StartOidcLoginInput) {\n    startOidcLogin(input: $input) {\n      authorizationUrl\n    }\n  }\n"): (typeof documents)["\n  mutation StartOidcLogin($input: StartOidcLoginInput) {\n    startOidcLogin(input: $input) {\n      authorizationUrl\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CompleteOidcLogin($input: CompleteOidcLoginInput!) {\n    completeOidcLogin(input: $input) {\n      ...AuthFields\n    }\n  }\n"): (typeof documents)["\n  mutation CompleteOidcLogin($input: CompleteOidcLoginInput!) {\n    completeOidcLogin(input: $input) {\n      ...AuthFields\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;